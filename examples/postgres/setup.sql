-- Prepares a local PostgreSQL cluster for this example. Run it once as a superuser:
--
--     psql -v password="$SHOP_PG_PASSWORD" -f setup.sql
--
-- It makes the four shop databases and one role for upshift, with the least the rollout needs and
-- nothing more: the role logs in, connects to the four databases and creates its tables in their
-- `public` schema. It is no superuser, owns no database, may not create in one (so no extensions
-- and no schemas), and belongs to no other role: upshift checks all of this at every session and
-- refuses to serve a database otherwise.
CREATE ROLE upshift_shop LOGIN PASSWORD :'password';
CREATE DATABASE shop_1;
CREATE DATABASE shop_2;
CREATE DATABASE shop_3;
CREATE DATABASE shop_4;
GRANT CONNECT ON DATABASE shop_1, shop_2, shop_3, shop_4 TO upshift_shop;
\connect shop_1
GRANT USAGE, CREATE ON SCHEMA public TO upshift_shop;
\connect shop_2
GRANT USAGE, CREATE ON SCHEMA public TO upshift_shop;
\connect shop_3
GRANT USAGE, CREATE ON SCHEMA public TO upshift_shop;
\connect shop_4
GRANT USAGE, CREATE ON SCHEMA public TO upshift_shop;
