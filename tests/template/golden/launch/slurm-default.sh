#!/bin/bash

# Parameters
#SBATCH --error=<project>/logs/slurm/%j/%j_0_log.err
#SBATCH --job-name=digits-classifier
#SBATCH --mem=16GB
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output=<project>/logs/slurm/%j/%j_0_log.out
#SBATCH --signal=USR2@90
#SBATCH --time=60
#SBATCH --wckey=submitit

# setup
export MLCORE_RUN_NAME="$(date +%Y-%m-%d_%H-%M-%S)_$SLURM_JOB_ID"

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output <project>/logs/slurm/%j/%j_%t_log.out --error <project>/logs/slurm/%j/%j_%t_log.err <python> -u -m submitit.core._submit <project>/logs/slurm/%j
