//! What an interrupted process does: remove the temporary files of outputs still being
//! written, and create no more. (A file of its own: `remove_temporaries` closes the registry
//! for the whole process.)

use std::io::Write;

use tabula_output::{remove_temporaries, AtomicFile};

fn hidden_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn remove_temporaries_deletes_unfinished_outputs_and_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done.txt");
    let mut f = AtomicFile::create(&done).unwrap();
    writeln!(f, "finished").unwrap();
    f.commit().unwrap();
    let mut open = AtomicFile::create(dir.path().join("patients.parquet")).unwrap();
    writeln!(open, "half written").unwrap();
    assert!(hidden_files(dir.path())
        .iter()
        .any(|n| n.starts_with(".patients.parquet.") && n.ends_with(".tmp")));
    // As on Ctrl-C: the destructor of `open` never runs.
    assert_eq!(remove_temporaries(), 1);
    std::mem::forget(open);
    assert_eq!(hidden_files(dir.path()), vec!["done.txt".to_string()]);
    let e = AtomicFile::create(dir.path().join("late.txt")).unwrap_err();
    assert!(e.to_string().contains("interrupted"), "{e}");
}
