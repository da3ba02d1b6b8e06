"""Training, distillation and evaluation (imports torch; never imported by the node)."""
