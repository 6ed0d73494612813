# nbgrader looks for its configuration in the working directory: the course keeps it in
# autograde/nbgrader_config.py (see README, "Instructor guide").
import os

load_subconfig(os.path.join("autograde", "nbgrader_config.py"))  # noqa: F821
