"""A GluonTS estimator for the Titans forecaster, so GluonTS users keep their data, evaluation and tools:

    from titans.forecasting.gluonts_estimator import TitansEstimator
    predictor = TitansEstimator(prediction_length=24, backbone="mag").train(dataset.train)
    forecasts, series = make_evaluation_predictions(dataset.test, predictor)   # QuantileForecast objects
    TitansEstimator(prediction_length=24, distribution="student_t")           # DistributionForecast objects

Univariate per item (GluonTS's convention); the network is the same Forecaster as the pipelines' (patches,
RevIN, a quantile head or the distribution head) on any backbone.

With `num_feat_dynamic_real` = F > 0 each entry's `feat_dynamic_real` [F, T] (known over the past and the
horizon, as GluonTS's own estimators read it) is cut by the InstanceSplitter into `past_feat_dynamic_real`
[L, F], the lookback's inputs of the featurizer, and `future_feat_dynamic_real` [H, F], fed to the head beside
the tokens: the path of the pipelines' known covariates (inputs.py), so the feature at step t can explain the
target at step t. The features are read as given (not scaled).

With `distribution` ("student_t" or "normal") the pipelines' distribution head is trained by negative
log-likelihood and the predictor returns GluonTS `DistributionForecast`s through GluonTS's own
`StudentTOutput` / `NormalOutput`: the head's parameters are theirs in the same order ((df, loc, scale),
(loc, scale)), so the forecasts' quantiles are exact (scipy's and torch's inverse CDFs: no sampling noise,
never crossing) and every GluonTS tool that reads distributions (sampling, `to_sample_forecast`, the
Evaluator) works on them unchanged.
"""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from gluonts.core.component import validated
from gluonts.dataset.common import DataEntry
from gluonts.dataset.field_names import FieldName
from gluonts.dataset.loader import as_stacked_batches
from gluonts.itertools import Cyclic
from gluonts.model.forecast_generator import QuantileForecastGenerator
from gluonts.torch.distributions import DistributionOutput, NormalOutput, StudentTOutput
from gluonts.torch.model.estimator import PyTorchLightningEstimator
from gluonts.torch.model.predictor import PyTorchPredictor
from gluonts.transform import (
    AddObservedValuesIndicator,
    ExpectedNumInstanceSampler,
    InstanceSplitter,
    MapTransformation,
    SelectFields,
    TestSplitSampler,
    Transformation,
    ValidationSplitSampler,
)
from torch import Tensor, nn

from titans.core import build_backbone
from titans.pipelines import InputError

from .heads import distribution as distribution_head
from .heads import linear
from .metrics import quantile_loss
from .model import Forecaster, patches

PREDICTION_INPUTS = ["past_target", "past_observed_values"]
TRAINING_INPUTS = [*PREDICTION_INPUTS, "future_target", "future_observed_values"]
FEATURE_INPUTS = ["past_feat_dynamic_real", "future_feat_dynamic_real"]  # with num_feat_dynamic_real > 0
DISTRIBUTION_OUTPUTS: dict[str, type[DistributionOutput]] = {"student_t": StudentTOutput, "normal": NormalOutput}


class CheckDynamicFeatures(MapTransformation):
    """Refuses, in one line naming the field and the shape expected, an entry whose `feat_dynamic_real` is
    missing, not [num_feat_dynamic_real, T] with T covering the target (and the horizon when predicting), or
    not finite."""

    @validated()
    def __init__(self, num_feat_dynamic_real: int, prediction_length: int) -> None:
        self.num_feat_dynamic_real, self.prediction_length = num_feat_dynamic_real, prediction_length

    def map_transform(self, data: DataEntry, is_train: bool) -> DataEntry:
        field, rows = FieldName.FEAT_DYNAMIC_REAL, self.num_feat_dynamic_real
        length = np.shape(data[FieldName.TARGET])[-1] + (0 if is_train else self.prediction_length)
        item_id = data.get(FieldName.ITEM_ID)
        item = f"item {item_id!r}" if item_id is not None else f"the item starting {data.get(FieldName.START)}"
        expected = (
            f"expected [{rows}, >= {length}] (num_feat_dynamic_real={rows} rows, one column per target step"
            f"{'' if is_train else f' and per step of the prediction_length={self.prediction_length} ahead'})"
        )
        if field not in data:
            raise InputError(f"{field}: {item} has no such field; {expected}")
        features = np.asarray(data[field], dtype=np.float32)
        if features.ndim != 2 or features.shape[0] != rows or features.shape[1] < length:
            raise InputError(f"{field}: {item} has shape {list(features.shape)}; {expected}")
        if not np.isfinite(features).all():
            raise InputError(f"{field}: {item} has NaN or infinite values; the features must be finite")
        return {**data, field: features}


class TitansNetwork(nn.Module):
    """past_target [B, L] -> ((quantiles [B, H, Q],), None, None), the shape GluonTS's quantile forecasts read;
    with a `distribution`, ((df, loc, scale) or (loc, scale), 0, 1), each [B, H], the shape GluonTS's
    DistributionOutputs read (their affine loc and scale stay 0 and 1: RevIN has already moved the head's
    location and scale onto the data's scale). With `num_feat_dynamic_real` = F > 0 it also reads
    past_feat_dynamic_real [B, L, F] (the featurizer's inputs) and future_feat_dynamic_real [B, H, F] (the
    head's known features)."""

    def __init__(self, context_length: int, prediction_length: int, backbone: str, backbone_options: dict,
                 patch_length: int, stride: int, quantiles: list[float], distribution: str | None = None,
                 num_feat_dynamic_real: int = 0):  # fmt: skip
        super().__init__()
        core = build_backbone(backbone, **backbone_options)
        dim, known = core.cfg.dim, num_feat_dynamic_real
        features = patches(dim, context_length, 1, known, patch_length=patch_length, stride=stride)
        if distribution is None:
            head = linear(features.tokens, dim, prediction_length, 1, known, quantiles=quantiles)
        else:
            head = distribution_head(features.tokens, dim, prediction_length, 1, known, family=distribution)
        self.forecaster, self.distribution = Forecaster(features, core, head), distribution

    def forward(self, past_target: Tensor, past_observed_values: Tensor, past_feat_dynamic_real: Tensor | None = None,
                future_feat_dynamic_real: Tensor | None = None):  # fmt: skip
        # [B, H, P]: quantiles or parameters
        outputs = self.forecaster(past_target[..., None], past_feat_dynamic_real, future_feat_dynamic_real)[:, :, 0]
        if self.distribution is None:
            return (outputs,), None, None
        loc = torch.zeros_like(outputs[..., 0])  # [B, H]
        return outputs.unbind(dim=-1), loc, torch.ones_like(loc)


class TitansLightningModule(pl.LightningModule):
    """Trained by the pinball loss over the quantiles, or by the distribution's negative log-likelihood."""

    @validated()
    def __init__(self, network_kwargs: dict, quantiles: list[float], lr: float = 1e-3, weight_decay: float = 0.01,
                 distribution: str | None = None):  # fmt: skip
        super().__init__()
        self.model = TitansNetwork(**network_kwargs, quantiles=quantiles, distribution=distribution)
        self.distr_output = DISTRIBUTION_OUTPUTS[distribution]() if distribution else None
        self.register_buffer("levels", torch.tensor(quantiles))
        self.lr, self.weight_decay = lr, weight_decay

    def forward(self, past_target: Tensor, past_observed_values: Tensor, past_feat_dynamic_real: Tensor | None = None,
                future_feat_dynamic_real: Tensor | None = None):  # fmt: skip
        return self.model(past_target, past_observed_values, past_feat_dynamic_real, future_feat_dynamic_real)

    def _loss(self, batch) -> Tensor:
        outputs, loc, scale = self.model(*(batch.get(name) for name in [*PREDICTION_INPUTS, *FEATURE_INPUTS]))
        if self.distr_output is None:
            losses = quantile_loss(outputs[0], batch["future_target"], self.levels).mean(dim=-1)  # [B, H]
        else:  # the negative log-likelihood of the same distribution the forecasts carry
            losses = self.distr_output.loss(batch["future_target"], outputs, loc, scale)  # [B, H]
        observed = batch["future_observed_values"]
        return (losses * observed).sum() / observed.sum().clamp_min(1)

    def training_step(self, batch, batch_index: int) -> Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_index: int) -> Tensor:
        loss = self._loss(batch)
        self.log("val_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class TitansEstimator(PyTorchLightningEstimator):
    @validated()
    def __init__(
        self,
        prediction_length: int,
        context_length: int | None = None,
        backbone: str = "mag",
        backbone_options: dict | None = None,
        patch_length: int = 16,
        stride: int = 8,
        quantiles: list[float] | None = None,
        distribution: str | None = None,
        num_feat_dynamic_real: int = 0,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        batch_size: int = 32,
        num_batches_per_epoch: int = 50,
        trainer_kwargs: dict | None = None,
    ) -> None:
        """`distribution`: None (quantiles, pinball loss), "student_t" or "normal" (negative log-likelihood,
        DistributionForecasts). `num_feat_dynamic_real`: rows of each entry's `feat_dynamic_real` [F, T],
        known over the past and the horizon (0: the field is not read)."""
        if distribution is not None and distribution not in DISTRIBUTION_OUTPUTS:
            raise ValueError(f"distribution={distribution!r}: choose one of {sorted(DISTRIBUTION_OUTPUTS)} or None")
        if num_feat_dynamic_real < 0:
            raise ValueError(f"num_feat_dynamic_real={num_feat_dynamic_real}: need 0 or more")
        super().__init__(trainer_kwargs={"max_epochs": 10, **(trainer_kwargs or {})})
        self.prediction_length = prediction_length
        self.context_length = context_length or 4 * prediction_length
        self.backbone, self.backbone_options = backbone, backbone_options or {"dim": 64, "depth": 2, "window": 16}
        self.patch_length, self.stride = min(patch_length, self.context_length), stride
        self.quantiles = quantiles or [0.1, 0.5, 0.9]
        self.distribution, self.num_feat_dynamic_real = distribution, num_feat_dynamic_real
        self.lr, self.weight_decay = lr, weight_decay
        self.batch_size, self.num_batches_per_epoch = batch_size, num_batches_per_epoch

    def _dynamic_fields(self) -> list[str]:
        return [FieldName.FEAT_DYNAMIC_REAL] if self.num_feat_dynamic_real else []

    def _input_names(self, training: bool) -> list[str]:
        inputs = TRAINING_INPUTS if training else PREDICTION_INPUTS
        return [*inputs, *FEATURE_INPUTS] if self.num_feat_dynamic_real else inputs

    def create_transformation(self) -> Transformation:
        fields = [FieldName.ITEM_ID, FieldName.INFO, FieldName.START, FieldName.TARGET, *self._dynamic_fields()]
        transformation = SelectFields(fields, allow_missing=True) + AddObservedValuesIndicator(
            target_field=FieldName.TARGET, output_field=FieldName.OBSERVED_VALUES
        )
        if self.num_feat_dynamic_real:
            transformation += CheckDynamicFeatures(self.num_feat_dynamic_real, self.prediction_length)
        return transformation

    def create_lightning_module(self) -> pl.LightningModule:
        network = {
            "context_length": self.context_length,
            "prediction_length": self.prediction_length,
            "backbone": self.backbone,
            "backbone_options": self.backbone_options,
            "patch_length": self.patch_length,
            "stride": self.stride,
            "num_feat_dynamic_real": self.num_feat_dynamic_real,
        }
        return TitansLightningModule(network, self.quantiles, self.lr, self.weight_decay, self.distribution)

    def _splitter(self, mode: str) -> InstanceSplitter:
        sampler = {
            "training": ExpectedNumInstanceSampler(num_instances=1.0, min_future=self.prediction_length),
            "validation": ValidationSplitSampler(min_future=self.prediction_length),
            "test": TestSplitSampler(),
        }[mode]
        return InstanceSplitter(
            target_field=FieldName.TARGET,
            is_pad_field=FieldName.IS_PAD,
            start_field=FieldName.START,
            forecast_start_field=FieldName.FORECAST_START,
            instance_sampler=sampler,
            past_length=self.context_length,
            future_length=self.prediction_length,
            time_series_fields=[FieldName.OBSERVED_VALUES, *self._dynamic_fields()],
            dummy_value=0.0,
        )

    def create_training_data_loader(self, data, module, shuffle_buffer_length: int | None = None, **kwargs):
        instances = self._splitter("training").apply(Cyclic(data).stream(), is_train=True)
        return as_stacked_batches(
            instances,
            batch_size=self.batch_size,
            shuffle_buffer_length=shuffle_buffer_length,
            field_names=self._input_names(training=True),
            output_type=torch.tensor,
            num_batches_per_epoch=self.num_batches_per_epoch,
        )

    def create_validation_data_loader(self, data, module, **kwargs):
        instances = self._splitter("validation").apply(data, is_train=True)
        return as_stacked_batches(
            instances,
            batch_size=self.batch_size,
            field_names=self._input_names(training=True),
            output_type=torch.tensor,
        )

    def create_predictor(self, transformation: Transformation, module) -> PyTorchPredictor:
        return PyTorchPredictor(
            input_transform=transformation + self._splitter("test"),
            input_names=self._input_names(training=False),
            prediction_net=module,
            forecast_generator=(
                DISTRIBUTION_OUTPUTS[self.distribution]().forecast_generator
                if self.distribution
                else QuantileForecastGenerator(quantiles=self.quantiles)
            ),
            batch_size=self.batch_size,
            prediction_length=self.prediction_length,
            device="auto",
        )
