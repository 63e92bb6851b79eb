#!/bin/bash

# Parameters
#SBATCH --cpus-per-task=12
#SBATCH --error=<project>/logs/slurm/%j/%j_0_log.err
#SBATCH --gpus-per-node=8
#SBATCH --job-name=digits-classifier
#SBATCH --mem=16GB
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --open-mode=append
#SBATCH --output=<project>/logs/slurm/%j/%j_0_log.out
#SBATCH --partition=gpu
#SBATCH --requeue
#SBATCH --signal=USR1@90
#SBATCH --time=60

# setup
export MLCORE_RUN_NAME="${MLCORE_SUBMIT_TIME:-$(date +%Y-%m-%d_%H-%M-%S)}_$SLURM_JOB_ID"
source .venv/bin/activate

# command
srun --unbuffered --output <project>/logs/slurm/%j/%j_%t_log.out --error <project>/logs/slurm/%j/%j_%t_log.err <python> -u -m digits_classifier.train trainer=gpu trainer.devices=auto resume=auto
