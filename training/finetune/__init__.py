"""Fine-tuning a trained student on a robot's own RGB-D recordings (``disdepth finetune``).

The command is the project's trainer on the ``bag`` dataset (:mod:`disdepth_core.data.bag_dataset`)
with a recipe for small data (:mod:`.recipe`), the ``finetune:`` config section that starts from a
trained model (:mod:`.section`, :mod:`.weights`), and a before/after report on the held-out
frames (:mod:`.heldout`, :mod:`.report`). :mod:`.run` ties them together; docs/finetune.md
describes the workflow.
"""
