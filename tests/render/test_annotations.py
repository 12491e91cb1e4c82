"""GitHub annotations: escaped as the Actions toolkit does, capped at GitHub's limit per level."""

from reconciler.errors import Location
from reconciler.render.annotations import PER_STEP, Annotation, annotation_lines, workflow_command


def test_an_annotation_names_file_line_column_and_code():
    annotation = Annotation(
        "warning", "drops 13 members", "membership-drop", Location("p/a.yaml", 4, 5)
    )
    assert workflow_command("warning", annotation) == (
        "::warning file=p/a.yaml,line=4,col=5,title=membership-drop::drops 13 members"
    )


def test_newlines_percent_signs_and_separators_are_escaped():
    annotation = Annotation("error", "50% of\nusers", "a:b,c", Location("dir,x/a:b.yaml", 1))
    assert workflow_command("error", annotation) == (
        "::error file=dir%2Cx/a%3Ab.yaml,line=1,title=a%3Ab%2Cc::50%25 of%0Ausers"
    )


def test_a_finding_without_position_is_still_annotated():
    assert workflow_command("notice", Annotation("info", "note")) == "::notice::note"


def test_at_most_ten_of_each_level_then_one_line_counting_the_rest():
    warnings = [Annotation("warning", f"w{i}", "code") for i in range(PER_STEP + 3)]
    errors = [Annotation("error", f"e{i}", "code") for i in range(2)]
    lines = annotation_lines([*warnings, *errors])
    assert [line.split("::")[1].split(" ")[0] for line in lines[:-1]] == (
        ["error"] * 2 + ["warning"] * PER_STEP
    )
    assert lines[-1].startswith("3 more findings not annotated")
    assert len(annotation_lines(errors)) == 2
