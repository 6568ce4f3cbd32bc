"""What the patches that wrap moto's CloudFormationBackend.create_change_set share: its
arguments by name, however the caller passed them. Not a patch (PATCHES does not list it)."""

NAMES = ("stack_name", "change_set_name", "template", "parameters", "description",
         "change_set_type")


def arguments(args, kwargs):
    """create_change_set's arguments (after self) as a dict by name."""
    return dict(zip(NAMES, args), **kwargs)
