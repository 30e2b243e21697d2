"""Documents written from measurements outside the suite: the bundled model's card
(weights/README.md), a model-versus-bicubic table for folders of images, a round-trip report."""
