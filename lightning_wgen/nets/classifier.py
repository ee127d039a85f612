"""A small convolutional classifier whose penultimate layer serves as a domain feature extractor."""

from __future__ import annotations

from torch import Tensor, nn


class ConvClassifier(nn.Module):
    """Three conv-BN-ReLU-pool blocks (32, 64, 128 channels), a feature layer and a linear head.

    Input ``(B, channels, 32, 32)`` images in [-1, 1]; :meth:`features` gives the
    ``feature_dim``-dimensional layer before the head (pre-activation), ``forward`` the logits.
    """

    def __init__(self, channels: int = 1, num_classes: int = 10, feature_dim: int = 128) -> None:
        super().__init__()
        self.channels = channels
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        layers: list[nn.Module] = []
        width_in = channels
        for width in (32, 64, 128):
            layers += [
                nn.Conv2d(width_in, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            width_in = width
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 4 * 4, feature_dim))
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))
