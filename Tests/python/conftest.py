import pathlib
import sys

# The float64 references live beside the tests, in reference/.
sys.path.insert(0, str(pathlib.Path(__file__).parent / "reference"))
