"""The standard's own pre-commit hooks, run offline from a project's environment.

Each hook is a module with `main(argv) -> int`: it takes the file paths pre-commit passes (and its
options), prints one `path:line: message` line per problem, saying how to fix it, and returns 1
when it found problems, 0 otherwise.

- `check_configs` (`mlcore check-configs`, `mlcore-check-configs`): every Hydra config composes,
  once per option of every config group, with its interpolations resolved.
- `check_config_safety` (`mlcore check-config-safety`, `mlcore-check-config-safety`): no
  credentials and no absolute local paths in config files.

The hooks import only hydra, omegaconf and PyYAML, never torch, lightning or mlflow: a commit
should not wait seconds for a training stack it does not use.
"""
