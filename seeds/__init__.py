"""Data files shipped with Qunbang: the service catalogue and demo-street settings."""

from pathlib import Path

SEEDS_DIR = Path(__file__).parent
CATALOGUE_PATH = SEEDS_DIR / "catalogue.yaml"
DEMO_STREET_PATH = SEEDS_DIR / "demo_street.yaml"
