"""Deterministic synthetic RGB-D scenes: exact ray casting of procedural rooms, corridors and streets.

Tests, demos and smoke training need depth data that is free, small, reproducible and exactly
correct; this package makes it, written in the real datasets' on-disk formats. Its parts:
``scenes`` (cameras, primitives, textures), ``layouts``/``indoor_layouts`` (what is in a room,
a corridor, a street), ``scene_builder`` (which scene a seed gives), ``render`` (ray casting),
``camera_effects`` (domain randomisation) and ``dataset_writer`` (NYU/KITTI trees, split files).
"""
