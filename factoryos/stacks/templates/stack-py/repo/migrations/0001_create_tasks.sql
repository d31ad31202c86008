-- The tasks the API keeps (app/store.py PostgresStore).
CREATE TABLE tasks (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text       text NOT NULL CHECK (length(text) BETWEEN 1 AND 200),
    done       boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
