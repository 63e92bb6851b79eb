{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}# The training image of {{ project_name }}: what the Kubernetes training job
# (deploy/k8s/training/, `make launch LAUNCHER=kubernetes`) runs with torchrun, and what each step
# of the Kubeflow pipeline (pipelines/kfp_pipeline.py) runs as `make <target>`. Code, configs, the
# Makefile and locked dependencies; data and checkpoints come from volumes mounted at
# /workspace/data and /workspace/logs.
#   make images            # builds it from the repository root, from requirements-lock.txt
{%- set python_image = {'3.10': '3.10.19', '3.11': '3.11.14', '3.12': '3.12.12', '3.13': '3.13.9'}[python_version] %}
{%- if use_gpu %}
# One CUDA stack: torch's own CUDA 13 wheels from PyPI (the CUDA runtime, cuDNN and NCCL come as
# nvidia-* wheels within the lock) on a plain Python image, so no CUDA base image adds a second
# one. The nodes need an NVIDIA driver for CUDA 13 (580 or newer) and the NVIDIA device plugin.
# For another CUDA, set TORCH_INDEX (e.g. https://download.pytorch.org/whl/cu126) and relock.
{%- endif %}

# Build stage: the full Debian image has git and compilers; none of it reaches the final image.
FROM python:{{ python_image }}-bookworm AS build
ARG TORCH_VERSION=2.13.0
{%- if use_gpu %}
ARG TORCH_INDEX=https://pypi.org/simple
{%- else %}
# torch's CPU build (the project answers use_gpu: no); set TORCH_INDEX for another build.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
{%- endif %}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The same path as in the final image: the project is installed editable, so its entry points
# find configs/ beside src/ as in a checkout.
WORKDIR /workspace
# torch first, without its dependencies (those come from the lock with the rest): this layer
# stays cached while the lock changes.
RUN pip install --no-cache-dir --no-deps "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
COPY pyproject.toml README.md requirements-lock.tx[t] ./
{%- if mlcore_source == 'index' %}
# mlcore only from the internal index: an unrelated package of that name is on PyPI.
{%- if not mlcore_version %}
# Rendered from an unreleased template commit: there is no mlcore release to pin to.
# hadolint ignore=DL3013
{%- endif %}
RUN pip install --no-cache-dir --no-deps --index-url {{ mlcore_index_url }} "mlcore{{ '==' ~ mlcore_version if mlcore_version else '' }}"
{%- endif %}
{%- if mlcore_source == 'path' %}
# mlcore comes from a local checkout: pass it as a named build context, which lands at the path
# pyproject.toml names (`make images` does: --build-context mlcore={{ mlcore_path }}).
# hadolint ignore=DL3022
COPY --from=mlcore . {{ mlcore_path }}
{%- endif %}
COPY src ./src
# The project and every dependency within the lock (images are built from the lock only: what was
# tested is what ships); mlcore from the source pyproject.toml names.
RUN test -s requirements-lock.txt || { echo "No requirements-lock.txt: run 'make lock' and commit it" >&2; exit 1; } \
    && pip install --no-cache-dir -c requirements-lock.txt -e .

FROM python:{{ python_image }}-slim-bookworm
LABEL org.opencontainers.image.title="{{ project_slug }}-train"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    PROJECT_ROOT=/workspace
# The pipeline's steps run Makefile targets: make (one binary, libc only) from the build stage.
COPY --from=build /usr/bin/make /usr/bin/make
COPY --from=build /opt/venv /opt/venv
WORKDIR /workspace
COPY Makefile pyproject.toml README.md ./
COPY configs ./configs
COPY src ./src
# The code stays root's; /workspace is the training user's, so that a run without volumes (a
# pipeline step) writes its data, logs and stamps there. The training job mounts volumes at
# data/ and logs/ and keeps the root file system read-only.
RUN install -d -o 1000 -g 1000 /workspace/data /workspace/logs && chown 1000:1000 /workspace
# The uid the training job's securityContext runs as (configs/launcher/kubernetes.yaml).
USER 1000:1000
CMD ["python", "-m", "{{ package_name }}.train"]
