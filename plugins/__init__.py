"""The four bundled camps. Each is a plugin registered through the ``lms.plugins`` entry points."""
