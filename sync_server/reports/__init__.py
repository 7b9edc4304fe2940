"""Management reports computed in SQL, with CSV, XLSX and PDF exports."""
