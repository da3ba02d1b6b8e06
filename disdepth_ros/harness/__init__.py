"""Harnesses that drive a real ``depth_node`` from outside: not used by the node itself.

``node_process`` starts the node as users do (a subprocess with ``--ros-args``), ``camera_client``
feeds it frames and records its outputs, and ``node_demo`` is ``disdepth demo``'s node run.
They ship with the package because the demo and the latency benchmark use them; the end-to-end
tests use the same code, so what is tested is what users run.
"""
