"""Coverage-guided fuzzing of the sans-IO core (atheris), and its invariants."""
