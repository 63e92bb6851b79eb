"""The standard's own pre-commit hooks, run offline from a project's environment.

Each hook module has `main(argv) -> int`: it prints one `path:line: message; hint` line per
problem and returns 1 when it found any. `check_configs`: every Hydra config composes;
`check_config_safety`: no credentials or absolute local paths in configs. They import only hydra,
omegaconf and PyYAML: a commit should not wait for a training stack it does not use.
"""
