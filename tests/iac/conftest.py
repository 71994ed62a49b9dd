"""tests/iac: offline checks of iac/, local/compose.yaml and the Lambda package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import iacutil`
