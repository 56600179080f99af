//! InfluxDB's annotated CSV (the answer of `/api/v2/query` with the `datatype`, `group` and
//! `default` annotations), read the way influxdb-client-go's `QueryTableResult.Next` reads it:
//! tables start at an annotation row, the `#datatype` row types the columns, `#default` gives the
//! value of an empty cell, a table whose header names the column `error` is an in-band query
//! error, and each data row yields its `_value` cell converted to its column's type.

use aviary_plugin_sdk::Value;

/// One column of the current table.
#[derive(Debug, Clone, Default)]
struct Column {
    name: String,
    datatype: String,
    default: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Annotation,
    Error,
}

/// The `_value` of every record of every table, in order (`Null` for a record without one).
pub fn values(body: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let mut columns: Option<Vec<Column>> = None;
    let mut state = State::Normal;
    let mut datatype_found = false;
    for row in records(body)? {
        if row.len() <= 1 {
            continue;
        }
        if row[0].starts_with('#') && state == State::Normal {
            columns = Some(vec![Column::default(); row.len() - 1]);
            state = State::Annotation;
            datatype_found = false;
        }
        let Some(cols) = columns.as_mut() else { return Err("parsing error, annotations not found".into()) };
        if row.len() - 1 != cols.len() {
            return Err(format!(
                "parsing error, row has different number of columns than the table: {} vs {}",
                row.len() - 1,
                cols.len()
            ));
        }
        let cells = &row[1..];
        match row[0].as_str() {
            "#datatype" => {
                datatype_found = true;
                cols.iter_mut().zip(cells).for_each(|(c, d)| c.datatype = d.clone());
            }
            "#default" => cols.iter_mut().zip(cells).for_each(|(c, d)| c.default = d.clone()),
            "#group" => {}
            "" => match state {
                State::Annotation => {
                    if !datatype_found {
                        return Err("parsing error, datatype annotation not found".into());
                    }
                    if cells[0] == "error" {
                        state = State::Error;
                    } else {
                        cols.iter_mut().zip(cells).for_each(|(c, n)| c.name = n.clone());
                        state = State::Normal;
                    }
                }
                State::Error => {
                    let message = if cells[0].is_empty() { "unknown query error" } else { cells[0].as_str() };
                    let reference = cells.get(1).filter(|r| !r.is_empty()).map(|r| format!(",{r}")).unwrap_or_default();
                    return Err(format!("{message}{reference}"));
                }
                State::Normal => {
                    let value = match cols.iter().position(|c| c.name == "_value") {
                        Some(i) => convert(&cells[i], &cols[i])?,
                        None => Value::Null,
                    };
                    out.push(value);
                }
            },
            other => return Err(format!("parsing error, unexpected annotation {other:?}")),
        }
    }
    Ok(out)
}

/// A cell as its column's type (the client's `toValue`); an empty cell takes the column default.
fn convert(cell: &str, column: &Column) -> Result<Value, String> {
    let s = if cell.is_empty() { column.default.as_str() } else { cell };
    if s.is_empty() {
        return Ok(Value::Null);
    }
    let bad = |e: &dyn std::fmt::Display| format!("{} value {s:?} is not a {}: {e}", column.name, column.datatype);
    Ok(match column.datatype.as_str() {
        "double" => Value::Number(s.parse::<f64>().map_err(|e| bad(&e))?),
        // Conditions compute in float64, as Argo's expr does with Go's int64 and uint64.
        "long" => Value::Number(s.parse::<i64>().map_err(|e| bad(&e))? as f64),
        "unsignedLong" => Value::Number(s.parse::<u64>().map_err(|e| bad(&e))? as f64),
        "boolean" => Value::Bool(!s.eq_ignore_ascii_case("false")),
        "string" | "dateTime:RFC3339" | "dateTime:RFC3339Nano" | "duration" | "base64Binary" => Value::String(s.into()),
        other => return Err(format!("{} has unknown data type {other}", column.name)),
    })
}

/// RFC 4180 records (Go's `encoding/csv` with variable field counts): quoted fields may hold
/// commas, doubled quotes and line breaks; `\r\n` ends a record like `\n`; empty lines are skipped.
pub fn records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut at_field_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                if !(record.is_empty() && field.is_empty()) {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(format!("parsing error: a quoted field opened before line {line} is not closed"));
    }
    if !(record.is_empty() && field.is_empty()) {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string\n\
                        #group,false,false,true,true,false,false,true,true,true,true\n\
                        #default,_result,,,,,,,,,\n\
                        ,result,table,_start,_stop,_time,_value,_field,_measurement,a,b\n";

    #[test]
    fn argos_own_table_gives_its_values_in_order() {
        let body = format!(
            "{HEAD},,0,2020-02-17T22:19:49.747562847Z,2020-02-18T22:19:49.747562847Z,2020-02-18T10:34:08.135814545Z,1.0,f,test,1,adsfasdf\n\
             ,,0,2020-02-17T22:19:49.747562847Z,2020-02-18T22:19:49.747562847Z,2020-02-18T22:08:44.850214724Z,6.6,f,test,1,adsfasdf\n"
        );
        assert_eq!(values(&body), Ok(vec![Value::Number(1.0), Value::Number(6.6)]));
        assert_eq!(values(HEAD), Ok(vec![]), "a table without rows has no values");
    }

    #[test]
    fn several_tables_each_with_their_own_types_are_read_in_turn() {
        let body = "#datatype,string,long,string,long\n#group,false,false,true,false\n#default,_result,,,\n\
                    ,result,table,host,_value\n,,0,a,3\n,,1,b,4\n\
                    \n\
                    #datatype,string,long,string,boolean\n#group,false,false,true,false\n#default,ok,,,\n\
                    ,result,table,host,_value\n,,2,c,false\n,,2,d,\n\
                    \n\
                    #datatype,string,long,string\n#group,false,false,true\n#default,names,,\n\
                    ,result,table,_value\n,,3,\"a, \"\"quoted\"\"\nname\"\r\n";
        let v = values(body).unwrap();
        assert_eq!(
            v,
            vec![
                Value::Number(3.0),
                Value::Number(4.0),
                Value::Bool(false),
                Value::Null,
                Value::String("a, \"quoted\"\nname".into())
            ]
        );
    }

    #[test]
    fn an_error_table_a_missing_annotation_and_a_bad_cell_are_errors() {
        let err = "#datatype,string,string\n#group,true,true\n#default,,\n,error,reference\n,\"compilation failed: undefined identifier x\",897\n";
        assert_eq!(values(err).unwrap_err(), "compilation failed: undefined identifier x,897");
        let no_ref = "#datatype,string,string\n#group,true,true\n#default,,\n,error,reference\n,oops,\n";
        assert_eq!(values(no_ref).unwrap_err(), "oops");
        assert_eq!(values(",result,table,_value\n,,0,1\n").unwrap_err(), "parsing error, annotations not found");
        assert_eq!(
            values("#group,false,false\n,table,_value\n,0,1\n").unwrap_err(),
            "parsing error, datatype annotation not found"
        );
        let bad = "#datatype,long,double\n,table,_value\n,0,x\n";
        assert!(values(bad).unwrap_err().starts_with("_value value \"x\" is not a double"), "{bad}");
        let short = "#datatype,long,double\n,table,_value\n,0\n";
        assert_eq!(
            values(short).unwrap_err(),
            "parsing error, row has different number of columns than the table: 1 vs 2"
        );
        assert!(records("\"open").is_err());
    }
}
