-- Fixture for the PostgREST features beyond the library schema:
-- many-to-many through junction tables (one with a composite key, two
-- between the same tables), self-references hinted by the foreign key's
-- name, computed fields (one shadowed by a column), aggregates and
-- to-many spreads. Loaded after library.sql by the tests that use it.

create table public.films (id int primary key, title text not null, year int not null);
create table public.actors (id int primary key, first_name text not null, last_name text not null);
create table public.roles (
  film_id int references public.films(id),
  actor_id int references public.actors(id),
  character text,
  primary key (film_id, actor_id)
);

-- A composite key on the other side of the junction.
create table public.directors (first_name text, last_name text, primary key (first_name, last_name));
create table public.film_directors (
  film_id int references public.films(id),
  first_name text,
  last_name text,
  primary key (film_id, first_name, last_name),
  foreign key (first_name, last_name) references public.directors
);

-- Two junctions between the same tables.
create table public.teams (id int primary key, name text not null);
create table public.players (id int primary key, name text not null);
create table public.team_members (team_id int references public.teams(id), player_id int references public.players(id), primary key (team_id, player_id));
create table public.team_tryouts (team_id int references public.teams(id), player_id int references public.players(id), primary key (team_id, player_id));

-- Self-references: a named constraint and a default-named one.
create table public.countries (id int primary key, name text not null);
create table public.cities (
  id int primary key,
  name text not null,
  country_id int references public.countries(id),
  sister_id int,
  constraint cities_sister_fk foreign key (sister_id) references public.cities(id)
);
create table public.emp (id int primary key, name text not null, boss_id int references public.emp(id));

-- Computed fields; name(people) is shadowed by the column of that name.
create table public.people (id int primary key, first_name text, last_name text, name text);
create function public.full_name(public.people) returns text language sql stable as
  $$ select $1.first_name || ' ' || $1.last_name $$;
create function public.name(public.people) returns text language sql stable as
  $$ select 'computed' $$;
create function public.initials(p public.people) returns text language sql immutable as
  $$ select left(p.first_name, 1) || left(p.last_name, 1) $$;

-- Aggregates.
create table public.customers (id int primary key, name text not null, country text not null);
create table public.orders (
  id int primary key,
  customer_id int not null references public.customers(id),
  amount numeric(10,2) not null,
  status text not null
);
comment on table public.orders is 'Orders placed by customers';
comment on column public.orders.amount is 'Total in euros';

insert into public.films values (1, 'Alien', 1979), (2, 'Blade Runner', 1982), (3, 'Heat', 1995), (4, 'Unseen', 2001);
insert into public.actors values (1, 'Sigourney', 'Weaver'), (2, 'Harrison', 'Ford'), (3, 'Rutger', 'Hauer'), (4, 'Al', 'Pacino'), (5, 'Nobody', 'Cast');
insert into public.roles values (1, 1, 'Ripley'), (2, 2, 'Deckard'), (2, 3, 'Batty'), (3, 4, 'Hanna');
insert into public.directors values ('Ridley', 'Scott'), ('Michael', 'Mann');
insert into public.film_directors values (1, 'Ridley', 'Scott'), (2, 'Ridley', 'Scott'), (3, 'Michael', 'Mann');
insert into public.teams values (1, 'Reds');
insert into public.players values (1, 'Ann'), (2, 'Bob');
insert into public.team_members values (1, 1);
insert into public.team_tryouts values (1, 2);
insert into public.countries values (1, 'France'), (2, 'Italy'), (3, 'Nowhere');
insert into public.cities values (1, 'Paris', 1, null), (2, 'Rome', 2, 1), (3, 'Lyon', 1, 1);
insert into public.emp values (1, 'Boss', null), (2, 'Ann', 1), (3, 'Bob', 1), (4, 'Cid', 2);
insert into public.people values (1, 'Ada', 'Lovelace', 'ada'), (2, 'Alan', 'Turing', 'alan');
insert into public.customers values (1, 'Acme', 'FR'), (2, 'Globex', 'US'), (3, 'Initech', 'US');
insert into public.orders values
  (1, 1, 10.50, 'paid'), (2, 1, 20.00, 'paid'), (3, 2, 5.25, 'open'), (4, 2, 7.75, 'paid'), (5, 3, 100.00, 'open');

-- Computed relationships: to-one (rows 1), to-many, and one named like a
-- table it overrides.
create function public.first_film(public.actors) returns setof public.films rows 1 language sql stable as
  $$ select f.* from public.films f join public.roles r on r.film_id = f.id where r.actor_id = $1.id order by f.year limit 1 $$;
create function public.same_year(public.films) returns setof public.films language sql stable as
  $$ select * from public.films where year between $1.year - 5 and $1.year + 5 and id <> $1.id order by id $$;
create table public.shelves (id int primary key, name text not null);
create table public.shelf_items (id int primary key, shelf_id int references public.shelves(id), hidden boolean not null default false);
insert into public.shelves values (1, 'top');
insert into public.shelf_items values (1, 1, false), (2, 1, true);
create function public.shelf_items(public.shelves) returns setof public.shelf_items language sql stable as
  $$ select * from public.shelf_items where shelf_id = $1.id and not hidden $$;
