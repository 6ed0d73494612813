# nbgrader configuration for the course (loaded by ../nbgrader_config.py and by the driver).
#
#   solutions/                       nbgrader "source": instructor notebooks with answers
#   exercises/                       nbgrader "release": what students get (make assignments)
#   autograde/submitted/<student>/<assignment>/   hand-ins to grade (make grade)
#   autograde/autograded/, autograde/feedback/, autograde/gradebook.db, autograde/grades.csv
#                                    run state, git-ignored
import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.root = root
c.CourseDirectory.course_id = "training-nn"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "autograde/submitted"
c.CourseDirectory.autograded_directory = "autograde/autograded"
c.CourseDirectory.feedback_directory = "autograde/feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "autograde", "gradebook.db")

# Students get this stub in place of each solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Every notebook runs on the course kernel, whatever kernelspec a submission claims.
c.Execute.kernel_name = "training-nn"
# Per-cell time limit in seconds while grading (an infinite loop costs one cell, not the run).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# A correct answer must not lose points for a warning: nbgrader scores any stderr output in a
# test cell as a failure. The notebooks route Python warnings to stdout already; this also
# drops warning text that reaches stderr some other way (e.g. printed by C code).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\w*Warning: "

# The course hands out and collects files itself (git, LMS); nbgrader's exchange folder only
# needs to be writable, so keep it inside the course (git-ignored).
c.Exchange.root = os.path.join(root, "autograde", "exchange")
