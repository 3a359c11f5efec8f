from __future__ import annotations

from dataclasses import replace

from core.base.config import TrainConfig
from core.training.recipes import recommend
from gui.train.form import TrainFormWidget


def test_accuracy_options_round_trip(qtbot):
    form = TrainFormWidget()
    qtbot.addWidget(form)
    chosen = TrainConfig(
        head="mlp",
        loss="asl",
        feature_views=2,
        multi_stage=True,
        auto_tune=True,
        tta=True,
        weight_decay=0.03,
    )
    form.set_config(chosen)
    assert form.config() == chosen  # fields the form does not show travel through too


def test_auto_tune_only_with_a_frozen_backbone(qtbot):
    form = TrainFormWidget()
    qtbot.addWidget(form)
    form.set_config(TrainConfig(auto_tune=True))
    assert form.auto_tune.isEnabled() and form.auto_tune.isChecked()
    form.strategy.setCurrentIndex(form.strategy.findData("no_freeze"))
    assert not form.auto_tune.isEnabled() and not form.config().auto_tune


def test_recommendation_is_shown_and_applied_on_request(qtbot):
    form = TrainFormWidget()
    qtbot.addWidget(form)
    form.set_config(TrainConfig())
    recommendation = recommend("cpu")
    form.set_recommendation(recommendation)
    assert form.recommended.text().startswith("Recommended for your CPU")
    assert form.config() == TrainConfig()  # shown, not imposed
    form.apply_recommendation()
    assert form.config() == replace(recommendation.config, backbone="efficientnet_lite0")


def test_each_backbone_is_explained_in_one_line(qtbot):
    form = TrainFormWidget()
    qtbot.addWidget(form)
    names = [form.backbone.itemData(i) for i in range(form.backbone.count())]
    assert {"vit_base_patch32_clip_224.openai", "vit_base_patch16_siglip_224"} <= set(names)
    form.backbone.setCurrentIndex(names.index("vit_base_patch32_clip_224.openai"))
    note = form.backbone_note.text()
    assert "88M params" in note and "unusual styles" in note and "\n" not in note
    form.backbone.setCurrentIndex(names.index("efficientnet_lite0"))
    assert "ImageNet weights included" in form.backbone_note.text()
    assert form.downloads_button.text() == "Downloaded models…"
