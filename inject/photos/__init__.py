"""Photos of the new classes: rows imprinted from them and blended with the text prior (``images=`` / ``--images``)."""
