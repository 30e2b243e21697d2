"""What a session with a CUDA GPU runs (gpu_session.sh): GPU decode speed (gpu_check, kept in
docs/gpu_check.json and shown by the suite's ``gpu`` benchmark), training and the depth study."""
