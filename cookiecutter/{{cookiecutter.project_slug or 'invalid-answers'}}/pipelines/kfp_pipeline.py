{% set _copier_answers = {'_commit': 'v' ~ cookiecutter._template_version} %}{% set _copier_conf = {'answers_file': '.copier-answers.yml', 'vcs_ref_hash': none} %}{% set project_name = cookiecutter.project_name %}{% set package_name = cookiecutter.package_name %}{% set project_slug = cookiecutter.project_slug %}{% set description = cookiecutter.description %}{% set author_name = cookiecutter.author_name %}{% set author_email = cookiecutter.author_email %}{% set python_version = cookiecutter.python_version %}{% set license = cookiecutter.license %}{% set mlcore_source = cookiecutter.mlcore_source %}{% set mlcore_git_url = cookiecutter.mlcore_git_url %}{% set mlcore_path = cookiecutter.mlcore_path %}{% set mlcore_index_url = cookiecutter.mlcore_index_url %}{% set use_gpu = cookiecutter.use_gpu | to_bool %}{% set deploy_target = cookiecutter.deploy_target %}{% set mlcore_ref %}{%- set commit = _copier_answers._commit | default('') -%} {{ commit if commit | regex_search('^v[0-9][^-]*$') else (_copier_conf.vcs_ref_hash or 'main') }}{% endset %}{% set mlcore_version %}{{ mlcore_ref[1:] if mlcore_ref | regex_search('^v[0-9]') else '' }}{% endset %}{% set mlcore_requirement %}{%- if mlcore_source == 'path' -%} mlcore[train] @ file://{{ mlcore_path }} {%- elif mlcore_source == 'index' -%} mlcore[train]{{ '==' ~ mlcore_version if mlcore_version }} {%- else -%} mlcore[train] @ git+{{ mlcore_git_url }}@{{ mlcore_ref }} {%- endif -%}{% endset %}"""The steps of `make pipeline` as a Kubeflow Pipelines pipeline, compiled offline.

    make pipeline-kfp KFP_IMAGE=registry.example.com/{{ project_slug }}-train:1.0

compiles it into build/kfp-pipeline.yaml (kfp and kfp-kubernetes run in their own environment,
.venv-kfp: they pin requests, urllib3 and protobuf exactly). Each step is a container of the
project's training image running the same Makefile target as `make pipeline`: data, train,
evaluate the candidate and the champion, promote through the gate. `make pipeline-kfp SEARCH=1`
adds the Optuna search before training (`make search`; its best values reach the train step as
a kfp output). The steps share nothing else but the MLflow server (MLFLOW_TRACKING_URI) and the
data catalog's storage, so point both at shared services. The MLflow credentials come from the
Kubernetes Secret that serving and the training job read, optional (a server without auth
needs none):
    {{ project_slug }}-mlflow, keys MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
"""

# No `from __future__ import annotations`: kfp reads the components' parameter types at runtime.
import argparse

from kfp import compiler, dsl, kubernetes

# The Kubernetes Secret with MLflow's credentials, and its keys (each the variable it sets).
MLFLOW_CREDENTIALS = "{{ project_slug }}-mlflow"
CREDENTIAL_KEYS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def build(
    image: str, tracking_uri: str, credentials: str = MLFLOW_CREDENTIALS, search: bool = False
):
    """The pipeline, its steps running `image` against the MLflow server at `tracking_uri`,
    signed in with the MLflow credentials of the Kubernetes Secret named `credentials`; with
    `search`, an Optuna search step (`make search`) whose best values train the candidate."""

    @dsl.container_component
    def make(target: str, args: str, model: str):
        """One Makefile target of the project, e.g. `make evaluate MODEL=candidate`."""
        return dsl.ContainerSpec(
            image=image,
            # PYTHON=python: the image's interpreter, where the project is installed.
            command=["sh", "-c", 'exec make "$0" PYTHON=python ARGS="$1" MODEL="$2"'],
            args=[target, args, model],
        )

    @dsl.container_component
    def search_hyperparameters(train_args: str, search_args: str, best_params: dsl.OutputPath(str)):
        """`make search`; its best values (`key=value` a line) go to the train step."""
        run = 'make search PYTHON=python TRAIN_ARGS="$0" SEARCH_ARGS="$1"'
        keep = 'mkdir -p "$(dirname "$2")" && cp .pipeline/best-params.txt "$2"'
        return dsl.ContainerSpec(
            image=image,
            command=["sh", "-c", f"{run} && {keep}"],
            args=[train_args, search_args, best_params],
        )

    @dsl.container_component
    def train_candidate(best_params: str, train_args: str):
        """`make train-candidate`: the search's best values, then train_args (the last wins)."""
        run = 'exec make train-candidate PYTHON=python TRAIN_ARGS="$(echo $0) $1"'  # lines as words
        return dsl.ContainerSpec(
            image=image, command=["sh", "-c", run], args=[best_params, train_args]
        )

    def configured(task, name: str):
        task.set_display_name(name)
        task.set_env_variable("MLFLOW_TRACKING_URI", tracking_uri)
        variables = {key: key for key in CREDENTIAL_KEYS}
        kubernetes.use_secret_as_env(task, credentials, variables, optional=True)
        task.set_caching_options(False)  # every run trains on the data of its day
        return task

    def step(name: str, target: str, args: str = "", model: str = ""):
        return configured(make(target=target, args=args, model=model), name)

    @dsl.pipeline(
        name="{{ project_slug }}-training",
        description="Prepare data, (search,) train, evaluate candidate and champion, promote.",
    )
    def training(train_args: str = "", search_args: str = ""):
        prepare = step("prepare", "data")
        best = ""
        if search:  # decided when compiling, as `make pipeline SEARCH=1` decides when run
            tuned = search_hyperparameters(train_args=train_args, search_args=search_args)
            best = configured(tuned, "search").after(prepare).outputs["best_params"]
        train = configured(train_candidate(best_params=best, train_args=train_args), "train")
        train.after(prepare)
        candidate = step("evaluate-candidate", "evaluate", model="candidate").after(train)
        champion = step("evaluate-champion", "evaluate-champion").after(train)
        gate = "--evidence evaluation --refused-ok"
        step("promote", "promote", args=gate).after(candidate, champion)

    return training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True, help="the training image, with its tag")
    parser.add_argument("--tracking-uri", required=True, help="the team MLflow server")
    parser.add_argument(
        "--credentials", default=MLFLOW_CREDENTIALS, help="the Kubernetes Secret with them"
    )
    parser.add_argument("--search", action="store_true", help="search hyperparameters first")
    parser.add_argument("--output", default="build/kfp-pipeline.yaml", help="compiled YAML")
    args = parser.parse_args()
    pipeline = build(args.image, args.tracking_uri, args.credentials, args.search)
    compiler.Compiler().compile(pipeline, args.output)
    print(f"Compiled {args.output} (image {args.image})")


if __name__ == "__main__":
    main()
