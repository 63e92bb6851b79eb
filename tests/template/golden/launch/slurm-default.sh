#!/bin/bash

# Parameters
#SBATCH --error=<project>/logs/slurm/%j/%j_0_log.err
#SBATCH --job-name=digits-classifier
#SBATCH --mem=16GB
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output=<project>/logs/slurm/%j/%j_0_log.out
#SBATCH --requeue
#SBATCH --signal=USR1@90
#SBATCH --time=60

# setup
export MLCORE_RUN_NAME="${MLCORE_SUBMIT_TIME:-$(date +%Y-%m-%d_%H-%M-%S)}_$SLURM_JOB_ID"

# command
srun --unbuffered --output <project>/logs/slurm/%j/%j_%t_log.out --error <project>/logs/slurm/%j/%j_%t_log.err <python> -u -m digits_classifier.train resume=auto
