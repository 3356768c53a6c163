"""ResNet for CIFAR (He, Zhang, Ren, Sun, CVPR 2016, §4.2): ResNet-20 and its depth 6n + 2 family.

A 3×3 convolution with 16 filters, then three stages of n basic blocks with 16, 32 and 64
filters on maps of 32, 16 and 8 pixels (the first block of stages 2 and 3 strides by 2), global
average pooling and a dense layer. Shortcuts are identities; where the shape changes they
subsample by 2 and pad the new channels with zeros (the paper's option A, parameter-free), so
ResNet-20 has 0.27 M parameters. BatchNorm weights and biases are trained parameters; its running
statistics are buffers, local to whichever process owns the module (see ``vocabulary/flat.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from asyncsgd.models.base import MODELS, image_shape

STAGE_WIDTHS = (16, 32, 64)


class PadShortcut(nn.Module):
    """Option A shortcut: subsample by ``stride`` and append zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


class BasicBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`` with 3×3 convolutions."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = PadShortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage: int, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, STAGE_WIDTHS[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(STAGE_WIDTHS[0])
        layers: list[nn.Module] = []
        width = STAGE_WIDTHS[0]
        for stage, out in enumerate(STAGE_WIDTHS):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(width, out, stride))
                width = out
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


@MODELS.register(
    "resnet20", "ResNet-20 for CIFAR (He et al. 2016): 3 stages × 3 blocks, 16/32/64 channels, 0.27 M"
)
def resnet20(input_shape: Sequence[int], num_classes: int, **_: object) -> nn.Module:
    channels, _, _ = image_shape("resnet20", input_shape)
    return CifarResNet(3, channels, num_classes)
