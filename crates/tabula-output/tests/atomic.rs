//! Files appear under their final name only when complete.

use std::io::Write;
use std::path::Path;

use tabula_output::html::Report;
use tabula_output::plot::{time_courses, Line, Panel, TimeCourseOptions};
use tabula_output::{
    write_atomic, AtomicFile, Column, OutputError, Table, TableWriter, TimeCourseBatch,
    TimeCourseLayout, TimeCourseWriter,
};

/// Names of all entries in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn batch() -> TimeCourseBatch {
    let mut b = TimeCourseBatch::default();
    for i in 0..1000 {
        b.push(i, f64::from(i as u32), 0, 1.0 / (1.0 + i as f64));
    }
    b
}

#[test]
fn dropped_writers_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["tc.csv", "tc.parquet", "tc.json"] {
        let path = dir.path().join(name);
        let mut w = TimeCourseWriter::create(&path, &TimeCourseLayout::new(["x"])).unwrap();
        w.write(&batch()).unwrap();
        assert!(!path.exists(), "{name} visible before finish");
        drop(w);
        assert!(!path.exists(), "{name} left behind");
    }
    let schema = Table::from_columns(vec![("x", Column::from(vec![1.0]))]).unwrap();
    let mut w = TableWriter::create(dir.path().join("t.parquet"), schema.schema()).unwrap();
    w.write(&schema).unwrap();
    drop(w);
    // Neither final files nor temporary files remain.
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn existing_file_is_replaced_only_on_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tc.csv");
    std::fs::write(&path, "old contents\n").unwrap();

    // Abandoned rewrite: the old file survives.
    let mut w = TimeCourseWriter::create(&path, &TimeCourseLayout::new(["x"])).unwrap();
    w.write(&batch()).unwrap();
    drop(w);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old contents\n");

    // Failed batch then drop: still the old file.
    let mut w = TimeCourseWriter::create(&path, &TimeCourseLayout::new(["x"])).unwrap();
    let mut bad = batch();
    bad.observable[3] = 9;
    assert!(w.write(&bad).is_err());
    drop(w);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old contents\n");

    // Completed rewrite: replaced, in one step.
    let mut w = TimeCourseWriter::create(&path, &TimeCourseLayout::new(["x"])).unwrap();
    w.write(&batch()).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old contents\n");
    w.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("patient,time,observable,value\n0,0.0,x,1.0\n"),
        "{}",
        &text[..60]
    );
    assert_eq!(text.lines().count(), 1001);
    assert_eq!(entries(dir.path()), ["tc.csv"]);
}

#[test]
fn atomic_file_commit_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/file.txt");
    let mut f = AtomicFile::create(&path).unwrap();
    f.write_all(b"abc").unwrap();
    assert!(!path.exists());
    f.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");

    let mut f = AtomicFile::create(&path).unwrap();
    f.write_all(b"new").unwrap();
    drop(f);
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    assert_eq!(entries(path.parent().unwrap()), ["file.txt"]);

    write_atomic(&path, b"xyz").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"xyz");
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not_a_dir");
    std::fs::write(&blocker, "").unwrap();
    let target = blocker.join("out.csv");
    let err = AtomicFile::create(&target).unwrap_err();
    assert!(matches!(err, OutputError::Io { .. }));
    assert!(err.to_string().contains("not_a_dir"), "{err}");

    let err = TimeCourseWriter::create(&target, &TimeCourseLayout::new(["x"]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("not_a_dir"), "{err}");
}

#[test]
fn figures_and_reports_are_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let panel = Panel::new("x").with_line(Line::new("a", vec![0.0, 1.0], vec![1.0, 2.0]));
    let fig = time_courses(&[panel], &TimeCourseOptions::default()).unwrap();
    fig.save(dir.path().join("f.svg")).unwrap();
    fig.save(dir.path().join("f.png")).unwrap();
    assert!(fig.save(dir.path().join("f.gif")).is_err());
    let mut r = Report::new("r");
    r.figure(&fig, "caption");
    r.write(dir.path().join("r.html")).unwrap();
    assert_eq!(entries(dir.path()), ["f.png", "f.svg", "r.html"]);
}

#[test]
fn an_output_directory_must_not_be_a_file_or_a_dangling_link() {
    use tabula_output::check_output_dir;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "x").unwrap();
    let e = check_output_dir(&file).unwrap_err().to_string();
    assert!(e.contains("it is an existing file"), "{e}");
    let e = check_output_dir(&file.join("sub")).unwrap_err().to_string();
    assert!(e.contains("is an existing file, not a directory"), "{e}");
    #[cfg(unix)]
    {
        let link = dir.path().join("gone");
        std::os::unix::fs::symlink("nowhere", &link).unwrap();
        let e = check_output_dir(&link).unwrap_err().to_string();
        assert!(
            e.contains("symbolic link to 'nowhere', which does not exist"),
            "{e}"
        );
    }
    check_output_dir(&dir.path().join("new/deeper")).unwrap();
    check_output_dir(dir.path()).unwrap();
}
