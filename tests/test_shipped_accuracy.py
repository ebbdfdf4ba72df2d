"""The shipped model keeps the accuracy its manifest records, on a fixed sample of IMDB's test
reviews (whichever model is shipped: the floor comes from its own manifest)."""

import json

from edgelstm import Classifier
from edgelstm.classifier import SHIPPED_DIR, SHIPPED_MODEL
from tests.helpers import needs_imdb

SAMPLE = 5000  # fixed (seed 0) sample of the 25,000 test reviews
# The manifest's accuracy is on all 25,000; a 5,000-review sample's differs by about 0.4 points
# (one standard error at 90%), so the floor sits 1 point below: a real regression (a wrong
# tokenizer, a broken graph or int8 recipe) costs far more than that.
FLOOR_BELOW_MANIFEST = 0.01


def test_shipped_model_keeps_its_recorded_accuracy_on_test_reviews(imdb):
    needs_imdb()
    path = SHIPPED_DIR / SHIPPED_MODEL
    recorded = json.loads(path.with_suffix(".json").read_text())["int8_test"]
    assert recorded["examples"] == len(imdb.test) == 25000
    sample = imdb.test.sample(SAMPLE, seed=0)
    result = Classifier.default(threads=1).evaluate(sample.texts, sample.labels)
    assert result["examples"] == SAMPLE
    assert result["accuracy"] >= recorded["accuracy"] - FLOOR_BELOW_MANIFEST, (result, recorded)
