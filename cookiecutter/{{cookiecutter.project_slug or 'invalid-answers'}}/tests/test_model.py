{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""The model's forward pass and one optimisation step behave."""

from __future__ import annotations

from functools import partial

import torch

from {{ package_name }}.model import DigitsClassifier


def test_forward_gives_one_logit_per_class() -> None:
    model = DigitsClassifier(hidden_dims=(16,))
    assert model(torch.rand(5, 64)).shape == (5, 10)


def test_one_optimizer_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    model = DigitsClassifier(hidden_dims=(32,), dropout=0.0)
    optimizer = model.configure_optimizers()["optimizer"]
    x, y = torch.rand(64, 64), torch.randint(0, 10, (64,))
    before = model.loss(model(x), y)
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = model.loss(model(x), y)
    assert after < before


def test_optimizer_and_scheduler_come_from_config() -> None:
    model = DigitsClassifier(
        optimizer=partial(torch.optim.SGD, lr=0.5, momentum=0.9),
        scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=2),
    )
    configured = model.configure_optimizers()
    assert isinstance(configured["optimizer"], torch.optim.SGD)
    assert configured["optimizer"].defaults["lr"] == 0.5
    assert isinstance(configured["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)
