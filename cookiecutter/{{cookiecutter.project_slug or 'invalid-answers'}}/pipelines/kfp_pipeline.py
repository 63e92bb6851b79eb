{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""The steps of `make pipeline` as a Kubeflow Pipelines pipeline, compiled offline.

    make pipeline-kfp KFP_IMAGE=registry.example.com/{{ project_slug }}-train:1.0

compiles it into build/kfp-pipeline.yaml (kfp and kfp-kubernetes run in their own environment,
.venv-kfp: they pin requests, urllib3 and protobuf exactly). Each step is a container of the
project's training image running the same Makefile target as `make pipeline`: data, train,
evaluate the candidate and the champion, promote through the gate. The steps share nothing but
the MLflow server (MLFLOW_TRACKING_URI) and the data catalog's storage, so point both at shared
services. The MLflow credentials come from the Kubernetes Secret that serving and the training
job read ({{ project_slug }}-mlflow, keys MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD),
optional, so a server without auth needs none.
"""

# No `from __future__ import annotations`: kfp reads the components' parameter types at runtime.
import argparse

from kfp import compiler, dsl, kubernetes

MODEL = "models:/{{ project_slug }}"
SECRET = "{{ project_slug }}-mlflow"
CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def build(image: str, tracking_uri: str, secret: str = SECRET):
    """The pipeline, its steps running `image` against the MLflow server at `tracking_uri`,
    signed in with the credentials of the Kubernetes Secret `secret`."""

    @dsl.container_component
    def make(target: str, args: str, model: str):
        """One Makefile target of the project, e.g. `make train ARGS="trainer.max_epochs=30"`."""
        return dsl.ContainerSpec(
            image=image,
            # PYTHON=python: the image's interpreter, where the project is installed.
            command=["sh", "-c", 'exec make "$0" PYTHON=python ARGS="$1" MODEL="$2"'],
            args=[target, args, model],
        )

    def step(name: str, target: str, args: str = "", model: str = ""):
        task = make(target=target, args=args, model=model).set_display_name(name)
        task.set_env_variable("MLFLOW_TRACKING_URI", tracking_uri)
        credentials = {key: key for key in CREDENTIALS}  # the Secret's keys are the variables
        kubernetes.use_secret_as_env(task, secret, credentials, optional=True)
        task.set_caching_options(False)  # every run trains on the data of its day
        return task

    @dsl.pipeline(
        name="{{ project_slug }}-training",
        description="Prepare data, train, evaluate candidate and champion, promote (gated).",
    )
    def training(train_args: str = ""):
        prepare = step("prepare", "data")
        train = step("train", "train", args=train_args).after(prepare)
        candidate = step("evaluate-candidate", "evaluate", model=f"{MODEL}@candidate").after(train)
        champion = step("evaluate-champion", "evaluate-champion").after(train)
        gate = "--evidence evaluation --refused-ok"
        step("promote", "promote", args=gate).after(candidate, champion)

    return training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True, help="the training image, with its tag")
    parser.add_argument("--tracking-uri", required=True, help="the team MLflow server")
    parser.add_argument("--secret", default=SECRET, help="the Secret with MLflow's credentials")
    parser.add_argument("--output", default="build/kfp-pipeline.yaml", help="compiled YAML")
    args = parser.parse_args()
    compiler.Compiler().compile(build(args.image, args.tracking_uri, args.secret), args.output)
    print(f"Compiled {args.output} (image {args.image})")


if __name__ == "__main__":
    main()
