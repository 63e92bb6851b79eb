{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""The datamodule reads the catalog's dataset and yields the shapes the model expects, in seeded,
disjoint splits."""

from __future__ import annotations

import mlcore.data
import pytest
import torch

from {{ package_name }}.data import EXAMPLE_DATASET, DigitsDataModule, prepare_data

N_SAMPLES = 1797  # scikit-learn's digits


@pytest.fixture(autouse=True, scope="module")
def _materialised() -> None:
    """The example dataset in data/raw/, as Lightning's prepare_data (or `make data`) writes it."""
    prepare_data()


def test_example_dataset_matches_the_catalog_checksum() -> None:
    """The CSV written from scikit-learn is byte for byte the one the catalog pins."""
    assert mlcore.data.verify(EXAMPLE_DATASET) == mlcore.data.fingerprint(EXAMPLE_DATASET)


def split_indices(datamodule: DigitsDataModule) -> list[set[int]]:
    return [set(index.tolist()) for index in datamodule.indices.values()]


def test_split_sizes_follow_the_fractions() -> None:
    dm = DigitsDataModule(val_fraction=0.2, test_fraction=0.1)
    dm.setup()
    sizes = [len(dm.train_set), len(dm.val_set), len(dm.test_set)]
    assert sum(sizes) == N_SAMPLES
    assert sizes[1:] == [round(N_SAMPLES * 0.2), round(N_SAMPLES * 0.1)]


def test_splits_are_disjoint_and_seeded() -> None:
    first, again, other = (DigitsDataModule(seed=seed) for seed in (1, 1, 2))
    for dm in (first, again, other):
        dm.setup()
    train, val, test = split_indices(first)
    assert not (train & val or train & test or val & test)
    assert split_indices(first) == split_indices(again)
    assert split_indices(first) != split_indices(other)


def test_batches_have_model_shapes() -> None:
    dm = DigitsDataModule(batch_size=32)
    dm.setup()
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (32, DigitsDataModule.num_features) and x.dtype == torch.float32
    assert y.shape == (32,) and y.dtype == torch.int64
    assert set(y.tolist()) <= set(range(DigitsDataModule.num_classes))


def test_standardization_statistics_come_from_the_training_split() -> None:
    dm = DigitsDataModule()
    dm.setup()
    train_x = dm.train_set.tensors[0]
    assert train_x.min() >= 0 and train_x.max() <= 16, "the splits hold raw pixels"
    assert torch.allclose(dm.feature_mean, train_x.mean(0))
    standardized = (train_x - dm.feature_mean) / dm.feature_std
    varying = train_x.std(0) > 0
    assert torch.allclose(standardized.mean(0), torch.zeros(64), atol=1e-4)
    assert torch.allclose(standardized.std(0)[varying], torch.ones(int(varying.sum())), atol=1e-4)


def test_impossible_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="leave some data to train on"):
        DigitsDataModule(val_fraction=0.6, test_fraction=0.5)
