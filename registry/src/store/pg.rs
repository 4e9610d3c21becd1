//! The PostgreSQL backend (the blocking `postgres` crate): connecting through
//! [`super::tls`], `?` to `$n` rewriting, prepared-statement reuse, and [`Conn`] on top
//! of it.

use std::time::Duration;

use super::conn::{Conn, DbErr, Dialect, Row, Val};

pub(crate) struct PgConn {
    client: postgres::Client,
    /// Prepared statements by SQL text: one round trip per statement after the first.
    statements: std::collections::HashMap<String, postgres::Statement>,
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Val::Null => Ok(postgres::types::IsNull::Yes),
            Val::Int(i) if *ty == Type::INT4 => {
                let v = i32::try_from(*i)?;
                v.to_sql(ty, out)
            }
            Val::Int(i) => i.to_sql(ty, out),
            Val::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [
            Type::INT8,
            Type::INT4,
            Type::TEXT,
            Type::VARCHAR,
            Type::NAME,
        ]
        .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

fn pg_err(e: postgres::Error) -> DbErr {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == postgres::error::SqlState::UNIQUE_VIOLATION {
            return DbErr::Unique {
                name: db.constraint() == Some("keys_live_name"),
            };
        }
        // Class 08 (connection exception), 57P (operator intervention: shutdown), 53
        // (insufficient resources), 57014 (statement cancelled, e.g. a timeout), and
        // 55000/55006/55P03 (the database does not allow connections now, an object is in
        // use, a lock is not available): all conditions that pass, so callers may retry.
        let c = code.code();
        if c.starts_with("08")
            || c.starts_with("57P")
            || c.starts_with("53")
            || matches!(c, "57014" | "55000" | "55006" | "55P03")
        {
            return DbErr::Unavailable;
        }
        return DbErr::Other;
    }
    // No server error: the socket or the connection failed.
    DbErr::Unavailable
}

/// Rewrites `?` placeholders to `$1..$n`. Statements in this crate never contain a `?`
/// inside a string literal.
fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl PgConn {
    /// Connects with the TLS that the URL's `sslmode` and `sslrootcert` ask for (see
    /// [`super::tls`]); the connect timeout is 5 seconds.
    pub(crate) fn open(url: &str) -> Result<PgConn, DbErr> {
        let client = super::tls::connect(url, Duration::from_secs(5))?;
        Ok(PgConn {
            client,
            statements: std::collections::HashMap::new(),
        })
    }

    pub(crate) fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbErr> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(&pg_sql(sql)).map_err(pg_err)?;
        if self.statements.len() >= 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
        params
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect()
    }
}

fn pg_row(row: &postgres::Row) -> Result<Row, DbErr> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        let v = if *t == Type::INT8 {
            Val::opt_int(row.try_get::<_, Option<i64>>(i).map_err(|_| DbErr::Other)?)
        } else if *t == Type::INT4 {
            Val::opt_int(
                row.try_get::<_, Option<i32>>(i)
                    .map_err(|_| DbErr::Other)?
                    .map(i64::from),
            )
        } else if *t == Type::BOOL {
            Val::opt_int(
                row.try_get::<_, Option<bool>>(i)
                    .map_err(|_| DbErr::Other)?
                    .map(i64::from),
            )
        } else if *t == Type::TEXT || *t == Type::VARCHAR || *t == Type::NAME {
            match row
                .try_get::<_, Option<String>>(i)
                .map_err(|_| DbErr::Other)?
            {
                Some(s) => Val::Text(s),
                None => Val::Null,
            }
        } else {
            Val::Null
        };
        out.push(v);
    }
    Ok(out)
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbErr> {
        let st = self.statement(sql)?;
        self.client
            .execute(&st, &Self::params(params))
            .map_err(pg_err)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbErr> {
        let st = self.statement(sql)?;
        let rows = self
            .client
            .query(&st, &Self::params(params))
            .map_err(pg_err)?;
        rows.iter().map(pg_row).collect()
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbErr> {
        self.client.batch_execute(sql).map_err(pg_err)
    }
    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
    /// One round trip for both; `SET LOCAL` ends with the transaction, and a failure
    /// after `BEGIN` leaves nothing open.
    fn begin_relaxed(&mut self) -> Result<(), DbErr> {
        let r = self.batch("BEGIN; SET LOCAL synchronous_commit = off");
        if r.is_err() {
            self.rollback();
        }
        r
    }
}
