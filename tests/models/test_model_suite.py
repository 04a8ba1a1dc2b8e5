"""The model test suite (rhograph.testing.model_suite) over every registered architecture, ± atomic baseline."""

from __future__ import annotations

import pytest

from rhograph.testing import tiny_model
from rhograph.testing.model_suite import DensityModelTests, registered_variants


class TestRegisteredModels(DensityModelTests):
    @pytest.fixture(scope="class", params=registered_variants(), ids=str)
    @classmethod
    def model(cls, request):
        variant = request.param
        return tiny_model(variant.architecture, baseline=variant.baseline, seed=3)
