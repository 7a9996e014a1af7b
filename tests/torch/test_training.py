"""The seed's training loop runs unchanged: torchvision transforms, a resnet18, a few optimizer steps."""

from __future__ import annotations

import torch
from torchvision import models, transforms

import hub


def test_seed_resnet18_loop(images: hub.Dataset) -> None:
    tform = transforms.Compose(
        [
            transforms.ToPILImage(),
            transforms.RandomRotation(20),
            transforms.ToTensor(),
            transforms.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
        ]
    )
    ds = images
    train_loader = ds.pytorch(num_workers=0, batch_size=4, transform={"images": tform, "labels": None}, shuffle=True)
    torch.manual_seed(0)
    model = models.resnet18(num_classes=len(ds.labels.info.class_names))
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    model.train()
    losses = []
    for i, data in enumerate(train_loader):
        inputs = data["images"]
        labels = torch.squeeze(data["labels"])
        optimizer.zero_grad()
        outputs = model(inputs.float())
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if i == 3:
            break
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert outputs.shape == (4, 2)
