"""The plain family's own options on the command line (its end-to-end tests, shared by every
small family, are in test_families_end_to_end.py)."""

from click.testing import CliRunner

from srcodec.cli import main


def test_unknown_option_of_the_family_is_a_usage_error(tmp_path, photo_dir):
    args = ["train", photo_dir, "--val", photo_dir, "-o", tmp_path / "m.safetensors"]
    r = CliRunner().invoke(
        main, [str(a) for a in [*args, "--family", "plain", "--res-scale", "0.1"]]
    )
    assert r.exit_code == 2 and "plain family has no res_scale option" in r.output
    r = CliRunner().invoke(main, [str(a) for a in [*args, "--family", "vdsr"]])
    assert r.exit_code == 2 and "vdsr" in r.output
