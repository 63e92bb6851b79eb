{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}# syntax=docker/dockerfile:1
# The training image of {{ project_name }}: what the Kubernetes training job
# (deploy/k8s/training/, `make launch LAUNCHER=kubernetes`) runs with torchrun. Code, configs and
# locked dependencies; data and checkpoints come from volumes mounted at /workspace/data and logs.
#   make images            # docker build -f deploy/train.Dockerfile . (from the repository root)
{%- set python_image = {'3.10': '3.10.19', '3.11': '3.11.14', '3.12': '3.12.12', '3.13': '3.13.9'}[python_version] %}
{%- if use_gpu %}
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# uv brings a standalone CPython {{ python_version }} into the CUDA image (no apt, no compilers).
FROM ghcr.io/astral-sh/uv:0.9.8 AS uv

FROM ${CUDA_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
# torch's CUDA build (PyPI's Linux wheels); set TORCH_INDEX for another CUDA version.
ARG TORCH_INDEX=https://pypi.org/simple
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=/opt/python UV_NO_CACHE=1 UV_LINK_MODE=copy
RUN uv python install {{ python_version }} && uv venv --python {{ python_version }} /opt/venv
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv
# The same path as in the final image: the project is installed editable, so its entry points
# find configs/ beside src/ as in a checkout.
WORKDIR /workspace
{%- if mlcore_source == 'index' %}
# mlcore only from the internal index: an unrelated package of that name is on PyPI.
{%- if not mlcore_version %}
# Rendered from an unreleased template commit: there is no mlcore release to pin to.
# hadolint ignore=DL3013
{%- endif %}
{%- endif %}
RUN uv pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
{%- if mlcore_source == 'index' %} \
    && uv pip install --no-deps --index-url {{ mlcore_index_url }} "mlcore{{ '==' ~ mlcore_version if mlcore_version else '' }}"
{%- endif %}
{%- else %}

FROM python:{{ python_image }}-bookworm AS build
ARG TORCH_VERSION=2.13.0
# torch's CPU build (the project answers use_gpu: no); set TORCH_INDEX for another build.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The same path as in the final image: the project is installed editable, so its entry points
# find configs/ beside src/ as in a checkout.
WORKDIR /workspace
{%- if mlcore_source == 'index' %}
# mlcore only from the internal index: an unrelated package of that name is on PyPI.
{%- if not mlcore_version %}
# Rendered from an unreleased template commit: there is no mlcore release to pin to.
# hadolint ignore=DL3013
{%- endif %}
{%- endif %}
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
{%- if mlcore_source == 'index' %} \
    && pip install --no-cache-dir --no-deps --index-url {{ mlcore_index_url }} "mlcore{{ '==' ~ mlcore_version if mlcore_version else '' }}"
{%- endif %}
{%- endif %}
{%- if mlcore_source == 'path' %}
# mlcore comes from a local checkout: pass it as a named build context, which lands at the path
# pyproject.toml names (`make images` does: --build-context mlcore={{ mlcore_path }}).
# hadolint ignore=DL3022
COPY --from=mlcore . {{ mlcore_path }}
{%- endif %}
COPY pyproject.toml README.md requirements-lock.tx[t] ./
COPY src ./src
# Within the lock (`make lock`; an empty one where there is none yet); mlcore from the source
# pyproject.toml names.
RUN touch requirements-lock.txt && \
    {{ 'uv pip install' if use_gpu else 'pip install --no-cache-dir' }} -c requirements-lock.txt -e .

{%- if use_gpu %}

FROM ${CUDA_IMAGE}
COPY --from=build /opt/python /opt/python
{%- else %}

FROM python:{{ python_image }}-slim-bookworm
{%- endif %}
LABEL org.opencontainers.image.title="{{ project_slug }}-train"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    PROJECT_ROOT=/workspace
COPY --from=build /opt/venv /opt/venv
WORKDIR /workspace
COPY configs ./configs
COPY src ./src
# The uid the training job's securityContext runs as (configs/launcher/kubernetes.yaml).
USER 1000:1000
CMD ["python", "-m", "{{ package_name }}.train"]
