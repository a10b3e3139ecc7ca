import sys
from pathlib import Path

# The layout writers live with the builder tests; the project runs reuse them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data" / "builders"))
