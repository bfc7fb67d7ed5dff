"""Training code for livenessapp (import name ``livenessapp_training``): the FAS-SGTD network, the simulator,
dataset readers and preprocessing, two-stage training, evaluation and ONNX export. Needs the ``train`` extra."""
