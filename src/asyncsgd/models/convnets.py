"""Small convolutional networks: LeNet-5 and the three-stage CIFAR CNN of the staleness-aware study."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from asyncsgd.models.base import MODELS, flat_width, image_shape


@MODELS.register("lenet", "LeNet-5 style CNN: two 5×5 conv + pool stages, then 120-84 dense")
def lenet(input_shape: Sequence[int], num_classes: int, **_: object) -> nn.Module:
    channels, _, _ = image_shape("lenet", input_shape)
    features = nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
    )
    return nn.Sequential(
        features,
        nn.Linear(flat_width(features, input_shape), 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, num_classes),
    )


@MODELS.register("cifar_cnn", "three 5×5 conv + pool stages (32-32-64) and one dense layer, ~90K parameters")
def cifar_cnn(input_shape: Sequence[int], num_classes: int, **_: object) -> nn.Module:
    """The CIFAR-10 CNN of Zhang et al. (IJCAI 2016), Caffe's ``cifar10_full``-like model.

    conv 5×5/32 → max-pool 3/2 → ReLU; conv 5×5/32 → ReLU → avg-pool 3/2; conv 5×5/64 → ReLU →
    avg-pool 3/2; dense → classes. Pools round up as Caffe's do, so 32×32 inputs end at 64×4×4 and
    the model has 89,578 parameters for 10 classes. Caffe's local response normalisation (no
    parameters) is left out.
    """
    channels, _, _ = image_shape("cifar_cnn", input_shape)
    features = nn.Sequential(
        nn.Conv2d(channels, 32, 5, padding=2),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.ReLU(),
        nn.Conv2d(32, 32, 5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Flatten(),
    )
    try:
        width = flat_width(features, input_shape)
    except RuntimeError:
        raise ValueError(
            f"cifar_cnn: inputs of shape {tuple(input_shape)} are too small for three pools"
        ) from None
    return nn.Sequential(features, nn.Linear(width, num_classes))
