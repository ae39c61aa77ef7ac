"""One package per feature; each hands on its ``bp``. They never import each other."""
