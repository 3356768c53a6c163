"""Model registry: dense, convolutional (LeNet, the CIFAR CNN, ResNet-20) and text models.

Any ``nn.Module`` that maps a batch of inputs to class logits works through the Python API; the
registered ones are built by name with :func:`build_model`, from the dataset's input shape.
"""

from asyncsgd.models import convnets, dense, resnet, text  # noqa: F401  (fill the registry)
from asyncsgd.models.base import MODELS, build_model

__all__ = ["MODELS", "build_model"]
