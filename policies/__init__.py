from pathlib import Path

__version__ = "0.1.0"

# The district policy shipped with LessonGate (see policies/default/).
DEFAULT_POLICY_DIR = Path(__file__).parent / "default"
