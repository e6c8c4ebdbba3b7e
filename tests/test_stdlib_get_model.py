"""``get_model`` on standard-library neurons returns what ml_genn's classes return."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from eqsnn.errors import BackendError
from eqsnn.neurons import AdaptiveLeakyIntegrateFire, LeakyIntegrateFire

HAS_ML_GENN = importlib.util.find_spec("ml_genn") is not None


@pytest.mark.skipif(HAS_ML_GENN, reason="ml_genn is installed")
def test_get_model_without_ml_genn_names_the_package():
    with pytest.raises(BackendError, match="ml_genn"):
        LeakyIntegrateFire().get_model(SimpleNamespace(shape=(4,)), 1.0, 1)


@pytest.mark.pygenn
@pytest.mark.skipif(not HAS_ML_GENN, reason="needs ml_genn")
def test_get_model_returns_an_ml_genn_neuron_model():
    from ml_genn.utils.model import NeuronModel

    model = AdaptiveLeakyIntegrateFire(tau_mem=10.0, tau_refrac=2.0).get_model(
        SimpleNamespace(shape=(4,)), 1.0, 1)
    assert isinstance(model, NeuronModel)
    assert model.output_var_name == "V"
    assert "V" in model.var_vals and "A" in model.var_vals
    assert "RefracTime" in model.model["sim_code"]
