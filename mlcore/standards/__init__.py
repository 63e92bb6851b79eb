"""Keeping a generated repository on the standard: `mlcore doctor` and `mlcore sync`.

Why a package of its own: both commands read the same `.copier-answers.yml`, ask git about the
same template releases and drive Copier, which is imported only inside them, so `mlcore --help`
and `import mlcore` never pay for it. Copier comes with the `template` extra (and with the `dev`
extra of every generated repository).
"""
