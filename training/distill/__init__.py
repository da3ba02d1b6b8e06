"""DisDepth cross-architecture distillation (paper sections 3.3-3.4) for the composite trainer.

``distill.method`` names registered in :data:`training.modules.DISTILL_METHODS`: ``disdepth``
(FAM + ghost decoder + LAM + attentive KD), ``fam`` (without LAM), ``kd`` (plain feature KD).
See :mod:`training.distill.module` and docs/distillation.md.
"""
