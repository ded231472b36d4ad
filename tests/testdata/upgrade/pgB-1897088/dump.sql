-- pg_dump of a database 1897088 made (the upgrade attack of stop 60), its owner and
-- psql 15.14's \restrict lines taken out so that any role on any 15.x psql loads it.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: gatehouse_api_key_changed(); Type: FUNCTION; Schema: public; Owner: gatehouse
--

CREATE FUNCTION public.gatehouse_api_key_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7261002);
  INSERT INTO api_key_changes (key_id, at)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            extract(epoch FROM now())::bigint);
  RETURN NULL;
END $$;



--
-- Name: gatehouse_audit_append_only(); Type: FUNCTION; Schema: public; Owner: gatehouse
--

CREATE FUNCTION public.gatehouse_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;



--
-- Name: gatehouse_user_changed(); Type: FUNCTION; Schema: public; Owner: gatehouse
--

CREATE FUNCTION public.gatehouse_user_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7261001);
  INSERT INTO user_changes (user_id, at)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            extract(epoch FROM now())::bigint);
  RETURN NULL;
END $$;



SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: api_key_changes; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.api_key_changes (
    seq bigint NOT NULL,
    key_id bigint NOT NULL,
    at bigint DEFAULT 0 NOT NULL
);



--
-- Name: api_key_changes_seq_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.api_key_changes_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: api_key_changes_seq_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.api_key_changes_seq_seq OWNED BY public.api_key_changes.seq;


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.api_keys (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    public_id text NOT NULL,
    secret_hash text NOT NULL,
    scopes text DEFAULT ''::text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    last_used_at bigint,
    revoked boolean DEFAULT false NOT NULL
);



--
-- Name: api_keys_id_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.api_keys_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: api_keys_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.api_keys_id_seq OWNED BY public.api_keys.id;


--
-- Name: audit_events; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.audit_events (
    id bigint NOT NULL,
    time_ms bigint NOT NULL,
    type text NOT NULL,
    request_id text DEFAULT ''::text NOT NULL,
    actor_id bigint,
    subject_id bigint,
    client_ip text DEFAULT ''::text NOT NULL,
    user_agent text DEFAULT ''::text NOT NULL,
    detail text DEFAULT '{}'::text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    mac text DEFAULT ''::text NOT NULL
);



--
-- Name: change_log_horizons; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.change_log_horizons (
    log text NOT NULL,
    purged_through bigint NOT NULL
);



--
-- Name: email_tokens; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.email_tokens (
    hash text NOT NULL,
    user_id bigint NOT NULL,
    purpose text NOT NULL,
    email text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    session_id text
);



--
-- Name: identities; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.identities (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    provider text NOT NULL,
    issuer text NOT NULL,
    subject text NOT NULL,
    email text DEFAULT ''::text NOT NULL,
    created_at bigint NOT NULL
);



--
-- Name: identities_id_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.identities_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: identities_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.identities_id_seq OWNED BY public.identities.id;


--
-- Name: key_ring; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.key_ring (
    purpose text NOT NULL,
    alg text NOT NULL,
    generation bigint NOT NULL,
    kid text NOT NULL,
    sealed text NOT NULL,
    created_at bigint NOT NULL,
    signs_from bigint NOT NULL
);



--
-- Name: legacy_subjects; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.legacy_subjects (
    source text NOT NULL,
    subject text NOT NULL,
    user_id bigint NOT NULL
);



--
-- Name: mail_outbox; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.mail_outbox (
    id bigint NOT NULL,
    kind text NOT NULL,
    sender text NOT NULL,
    recipient text NOT NULL,
    user_id bigint,
    body text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at bigint NOT NULL,
    claimed_until bigint DEFAULT 0 NOT NULL,
    claimed_by text DEFAULT ''::text NOT NULL,
    expires_at bigint DEFAULT 0 NOT NULL,
    created_at bigint NOT NULL,
    finished_at bigint DEFAULT 0 NOT NULL,
    last_error text DEFAULT ''::text NOT NULL
);



--
-- Name: mail_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.mail_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: mail_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.mail_outbox_id_seq OWNED BY public.mail_outbox.id;


--
-- Name: mfa_factors; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.mfa_factors (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    type text NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    secret text NOT NULL,
    confirmed boolean DEFAULT false NOT NULL,
    created_at bigint NOT NULL,
    last_used_at bigint DEFAULT 0 NOT NULL,
    last_step bigint DEFAULT 0 NOT NULL,
    credential_id text,
    passkey text DEFAULT ''::text NOT NULL
);



--
-- Name: mfa_factors_id_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.mfa_factors_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: mfa_factors_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.mfa_factors_id_seq OWNED BY public.mfa_factors.id;


--
-- Name: op_clients; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.op_clients (
    client_id text NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    secret_hash text DEFAULT ''::text NOT NULL,
    redirect_uris text DEFAULT '[]'::text NOT NULL,
    post_logout_redirect_uris text DEFAULT '[]'::text NOT NULL,
    grant_types text DEFAULT '[]'::text NOT NULL,
    scope text DEFAULT ''::text NOT NULL,
    is_public boolean DEFAULT false NOT NULL,
    first_party boolean DEFAULT false NOT NULL,
    created_at bigint NOT NULL,
    secret_rotated_at bigint DEFAULT 0 NOT NULL
);



--
-- Name: op_codes; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.op_codes (
    hash text NOT NULL,
    client_id text NOT NULL,
    user_id bigint NOT NULL,
    data text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint,
    session_id text DEFAULT ''::text NOT NULL
);



--
-- Name: op_consents; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.op_consents (
    user_id bigint NOT NULL,
    client_id text NOT NULL,
    scope text NOT NULL,
    granted_at bigint NOT NULL
);



--
-- Name: op_keys; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.op_keys (
    id integer NOT NULL,
    sealed text NOT NULL,
    created_at bigint NOT NULL,
    CONSTRAINT op_keys_id_check CHECK ((id = 1))
);



--
-- Name: recovery_codes; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.recovery_codes (
    user_id bigint NOT NULL,
    code_hash text NOT NULL,
    used_at bigint DEFAULT 0 NOT NULL
);



--
-- Name: revoked_tokens; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.revoked_tokens (
    jti text NOT NULL,
    expires_at bigint NOT NULL
);



--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    applied_at bigint NOT NULL
);



--
-- Name: sessions; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.sessions (
    id text NOT NULL,
    user_id bigint NOT NULL,
    refresh_jti text NOT NULL,
    user_agent text DEFAULT ''::text NOT NULL,
    ip text DEFAULT ''::text NOT NULL,
    created_at bigint NOT NULL,
    last_used_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    revoked boolean DEFAULT false NOT NULL,
    previous_jti text DEFAULT ''::text NOT NULL,
    rotated_at bigint DEFAULT 0 NOT NULL
);



--
-- Name: user_changes; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.user_changes (
    seq bigint NOT NULL,
    user_id bigint NOT NULL,
    at bigint NOT NULL
);



--
-- Name: user_changes_seq_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.user_changes_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: user_changes_seq_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.user_changes_seq_seq OWNED BY public.user_changes.seq;


--
-- Name: users; Type: TABLE; Schema: public; Owner: gatehouse
--

CREATE TABLE public.users (
    id bigint NOT NULL,
    email text NOT NULL,
    username text NOT NULL,
    password_hash text DEFAULT ''::text NOT NULL,
    role text NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    tokens_valid_after bigint DEFAULT 0 NOT NULL,
    email_verified boolean DEFAULT false NOT NULL,
    mfa_enabled boolean DEFAULT false NOT NULL
);



--
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: gatehouse
--

CREATE SEQUENCE public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;



--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: gatehouse
--

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;


--
-- Name: api_key_changes seq; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.api_key_changes ALTER COLUMN seq SET DEFAULT nextval('public.api_key_changes_seq_seq'::regclass);


--
-- Name: api_keys id; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.api_keys ALTER COLUMN id SET DEFAULT nextval('public.api_keys_id_seq'::regclass);


--
-- Name: identities id; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.identities ALTER COLUMN id SET DEFAULT nextval('public.identities_id_seq'::regclass);


--
-- Name: mail_outbox id; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.mail_outbox ALTER COLUMN id SET DEFAULT nextval('public.mail_outbox_id_seq'::regclass);


--
-- Name: mfa_factors id; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.mfa_factors ALTER COLUMN id SET DEFAULT nextval('public.mfa_factors_id_seq'::regclass);


--
-- Name: user_changes seq; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.user_changes ALTER COLUMN seq SET DEFAULT nextval('public.user_changes_seq_seq'::regclass);


--
-- Name: users id; Type: DEFAULT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);


--
-- Data for Name: api_key_changes; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.api_key_changes (seq, key_id, at) FROM stdin;
1	2	1796647840
\.


--
-- Data for Name: api_keys; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.api_keys (id, user_id, name, public_id, secret_hash, scopes, created_at, expires_at, last_used_at, revoked) FROM stdin;
2	2	k-revoked	e48241403644daea	7d39ba10d64f8b0a174371ad2a8a3e9bbfac8244b12edefa3ebe7e2f4002ffcd	posts:read posts:write users:read	1796647840	\N	\N	t
1	2	k-live	81fe916492972f60	3f43dc464340bf1aa453aa6fa4d37f1a1a19bd72c08d4e52c785a8739d36ad36	posts:read posts:write users:read	1796647840	\N	1796647840	f
3	2	k-expiring	6e6c23e7afd72569	193b7108c0f4139366e4453547100eaca5fd4bb402cee8eafb6b3e146018d38c	posts:read posts:write users:read	1796647840	1799239840	1796647840	f
4	4	cli-key	d3c403fa4eed6bb8	08bcf003f16898129155498d38eacc617ea69f9ad508dd4f3fb537883c10b090	reports:view users:read	1796647840	\N	1796647840	f
\.


--
-- Data for Name: audit_events; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.audit_events (id, time_ms, type, request_id, actor_id, subject_id, client_ip, user_agent, detail, prev_hash, hash, mac) FROM stdin;
1	1796647837324	user.created	cli	\N	1		gatehouse-cli	{"role":"admin","actor":"cli"}	0000000000000000000000000000000000000000000000000000000000000000	769952ce48c7079803ffc1afb0cd8b0bd5a3495df683d7391480bf4cee7c14c2	82ee6770143f6d950611c1b75fc313109c0023977ae519736513065e0850ff7f
2	1796647837527	user.registered	9xnMQ2ID-2	2	2	127.0.0.1	python-requests/2.28.1	{"role":"user"}	769952ce48c7079803ffc1afb0cd8b0bd5a3495df683d7391480bf4cee7c14c2	1001606f6d0138fc75311d9cd1c5c8805059c692f01258ce169f30afc9fa05d5	0b70966a6e41b28f03a2726c7ea7d41652687511559c09543d643c86334b5a85
3	1796647837593	user.registered	9xnMQ2ID-3	3	3	127.0.0.1	python-requests/2.28.1	{"role":"user"}	1001606f6d0138fc75311d9cd1c5c8805059c692f01258ce169f30afc9fa05d5	52ce6bb04aba3700ae1f35d44531299bd976c50f8705b053d3d1f7b119ff83bd	5ebf5a915f42c5ed818f7f321672b9198aecd4aa7ec166c25141d7a89b40b50b
4	1796647837701	user.registered	9xnMQ2ID-4	4	4	127.0.0.1	python-requests/2.28.1	{"role":"user"}	52ce6bb04aba3700ae1f35d44531299bd976c50f8705b053d3d1f7b119ff83bd	519e0d5fee07c92ea5b0c7205b5a880a5cb292b9bc631dc796cb9f326fc39b64	a6b60f6f108e194fa546954394b9cdd107938fcd2292e0e29c0128df52d06714
5	1796647837759	user.registered	9xnMQ2ID-5	5	5	127.0.0.1	python-requests/2.28.1	{"role":"user"}	519e0d5fee07c92ea5b0c7205b5a880a5cb292b9bc631dc796cb9f326fc39b64	d22043fd248bf2b1902e5f52fcf855652ff8af09e04cde9599e28d37355963bb	85d2931e27bd1c3e68233114d9e06b50c010a66bda12bee47fe8a8f4ff6eed68
6	1796647837845	user.registered	9xnMQ2ID-6	6	6	127.0.0.1	python-requests/2.28.1	{"role":"user"}	d22043fd248bf2b1902e5f52fcf855652ff8af09e04cde9599e28d37355963bb	63b02e282a9f24896cb470a4ebe1249cc767fe33ea34384be71e80bc004885ec	82937bccfb98e161b37d3f0091b56a5520de0985cdfd4a22c71e3402805d95ef
7	1796647838033	user.registered	9xnMQ2ID-7	7	7	127.0.0.1	python-requests/2.28.1	{"role":"user"}	63b02e282a9f24896cb470a4ebe1249cc767fe33ea34384be71e80bc004885ec	28167251a169a3cc8446a817e19ecd7aa1aeb30397569069a3d3629099472e16	df315b56baba60fbcb8c1c51595a412cf49a429ecfe19eb3b4e7b61a1827dbda
8	1796647838118	user.registered	9xnMQ2ID-8	8	8	127.0.0.1	python-requests/2.28.1	{"role":"user"}	28167251a169a3cc8446a817e19ecd7aa1aeb30397569069a3d3629099472e16	b801327e4453e83cc5643eed5832ad01027e2a496f6f56ccb49048c995fdd5eb	cbd3c9fe8f40afa84128f79ceb7cd9b7013a22aaeae130c2a98c85816588706d
9	1796647838186	user.registered	9xnMQ2ID-9	9	9	127.0.0.1	python-requests/2.28.1	{"role":"user"}	b801327e4453e83cc5643eed5832ad01027e2a496f6f56ccb49048c995fdd5eb	ba61d2d2ddcdd98939b6abbc6909a49dde74aaf7dc30a67d7a2b3636cc86929c	d9d4a6781a22e6b0c34dd5adaaa67afcd8aa4f445b7e2184d2a8ab333bda759c
10	1796647838369	user.registered	9xnMQ2ID-a	10	10	127.0.0.1	python-requests/2.28.1	{"role":"user"}	ba61d2d2ddcdd98939b6abbc6909a49dde74aaf7dc30a67d7a2b3636cc86929c	a71a8539e6dc165ddb875be9c2361c993c302a9f615f1f26d6e62f54e9911e7e	d0399af7b1542cfb16ae3e7b4c2172dfa71a27d4b06bdecdd58da69a955ed048
11	1796647838401	user.role_changed	cli	\N	4		gatehouse-cli	{"from":"user","to":"analyst","actor":"cli"}	a71a8539e6dc165ddb875be9c2361c993c302a9f615f1f26d6e62f54e9911e7e	6e3f5a0f8b5c16958ba941f000a2e623a9d026d13c798482853e1ee99124d57a	e868ec514269d8f4c1ab86671c2f35b49dcf5d38b9e23ae657d1d6d6aa91ff64
12	1796647838601	user.role_changed	cli	\N	3		gatehouse-cli	{"from":"user","to":"moderator","actor":"cli"}	6e3f5a0f8b5c16958ba941f000a2e623a9d026d13c798482853e1ee99124d57a	aa6042a51b9e9fd94e3a33f3312b48d401f44c16cb53f3f189d7af38821c4a01	789ef90162fa11b8714bf051494578e6e0037d40d31bf02fe7fdf82ac347b5f0
13	1796647838769	user.deactivated	cli	\N	7		gatehouse-cli	{"sessions_ended":1,"actor":"cli"}	aa6042a51b9e9fd94e3a33f3312b48d401f44c16cb53f3f189d7af38821c4a01	75171e082191962c5a01d9b108241df2bef56295c1a508acdbb651083cbdd345	5a472637df209fde95ce3435aee269e77fba4339a21a55b59919bc8e3ad05031
14	1796647839116	login.succeeded	9xnMQ2ID-b	8	8	127.0.0.1	python-requests/2.28.1	{}	75171e082191962c5a01d9b108241df2bef56295c1a508acdbb651083cbdd345	74d6d93c12dcd7f245784e016f146c968beadfb01c389391138109144e8660b9	51f854996414eb78d5e8dc5ee28f793a9bcc1a25d4190335143572b8a648c599
15	1796647839429	password.changed	9xnMQ2ID-c	8	8	127.0.0.1	python-requests/2.28.1	{"api_keys":"revoked"}	74d6d93c12dcd7f245784e016f146c968beadfb01c389391138109144e8660b9	a83971a5c755c2ef30f8e62929150e0bd325eb49f1c025c3244c559d2543fb24	e87d9b8061e6cd17ab90f31d3cc8b908c9736e644606c6c0d9b8840bd8b7cce1
16	1796647839449	mail.queued	9xnMQ2ID-c	\N	8	127.0.0.1	python-requests/2.28.1	{"kind":"password-changed"}	a83971a5c755c2ef30f8e62929150e0bd325eb49f1c025c3244c559d2543fb24	30859622d5da7069358dce92de64bb8c11c32ec1be92e97d6f160bed79d9eb4b	1da1aa2ac936d55c63553e09a3e3d84cb7e037ce6ca49bbbba0d54a4ba107cdc
17	1796647839475	mail.sent		\N	8			{"message_id":1,"kind":"password-changed","attempt":1}	30859622d5da7069358dce92de64bb8c11c32ec1be92e97d6f160bed79d9eb4b	72ff1e6749122e3b2620a1668e5ba8b262f188ee2164cbc8c50abf8b08c6f930	276eefef34cf960f85cae9d48887e7cc86180f6497f041e79ec72e41b1ada711
18	1796647839561	login.succeeded	9xnMQ2ID-d	2	2	127.0.0.1	python-requests/2.28.1	{}	72ff1e6749122e3b2620a1668e5ba8b262f188ee2164cbc8c50abf8b08c6f930	89894446db2d63ec00aea2928c5202090b568f50a4dfa71cf84838009ff83110	5660762154233c1a0cd53765f407b5a90fe2aec98195f00b144f1cf0f8aa3c5b
19	1796647839695	login.succeeded	9xnMQ2ID-e	2	2	127.0.0.1	python-requests/2.28.1	{}	89894446db2d63ec00aea2928c5202090b568f50a4dfa71cf84838009ff83110	9144c26b362000fa946ebdb1bb9ca809fefe93b5d11bd51635d0679d885907eb	3fa97715ad3b04e7b5f53a36386b16da7aad8c52410d20795b9bdc4d11cb13ef
20	1796647839709	token.refreshed	9xnMQ2ID-f	2	2	127.0.0.1	python-requests/2.28.1	{"session_id":"bE0tKaQO0b9PoQw2E1sO4w"}	9144c26b362000fa946ebdb1bb9ca809fefe93b5d11bd51635d0679d885907eb	5542513905b28fc07806843bd2fd341e506820834739a461f81a8356b664288e	220fac7bed0cd2c6a228b96f9da1a0df7253744c72c5be186259efcbaa420668
21	1796647839821	login.succeeded	9xnMQ2ID-10	2	2	127.0.0.1	python-requests/2.28.1	{}	5542513905b28fc07806843bd2fd341e506820834739a461f81a8356b664288e	a63fc44040d48bd5de9545fb3472f6f872a454cdf5d4bef978edfd3d644ad610	04cda4f3c41a4a14b81db3cd3b50f2f8c993c8ae485ae20bd2db644bdd1a135f
22	1796647839845	logout	9xnMQ2ID-11	2	2	127.0.0.1	python-requests/2.28.1	{"session_id":"HzmO2EmFjqqo2bsE-C6yBw"}	a63fc44040d48bd5de9545fb3472f6f872a454cdf5d4bef978edfd3d644ad610	1e1a5e9aae9b34dfaf4edd34d8df1c228f2684d5b8dde10b309a6e98283c557d	96eb58389455cfd15b3e2adbe8de77f2ec3bd0422ab93b145892b5788e2524bc
23	1796647839952	login.succeeded	9xnMQ2ID-12	2	2	127.0.0.1	python-requests/2.28.1	{}	1e1a5e9aae9b34dfaf4edd34d8df1c228f2684d5b8dde10b309a6e98283c557d	8afbbacac9d368f3476ed6f62d965df62a6ffcca0c380264cebcc55c8602a5c1	20fa7d7d1a71a874fb5c43ea416d9c29b2f95ca48641961381a9141ab0e9f38b
24	1796647839969	token.revoked	9xnMQ2ID-13	2	2	127.0.0.1	python-requests/2.28.1	{"token_type":"access_token"}	8afbbacac9d368f3476ed6f62d965df62a6ffcca0c380264cebcc55c8602a5c1	f222050fb71c9f71d8ba77d5e7b6f332cff633b2b625b7393d550235e8e5d929	ee5aff7e1ba0d59870e5fc4ccb122f1096935698117fc3844357a64c1410fe5c
25	1796647840101	login.succeeded	9xnMQ2ID-14	3	3	127.0.0.1	python-requests/2.28.1	{}	f222050fb71c9f71d8ba77d5e7b6f332cff633b2b625b7393d550235e8e5d929	a7c99e7e6628053b58302c3e867420b07cad36f7d0ca3332353450a1508697c9	ee5be4e6638dbb506f37021e725a6be6fcb63b81788374aced7158b01a6faec3
26	1796647840117	apikey.created	9xnMQ2ID-15	2	2	127.0.0.1	python-requests/2.28.1	{"key_id":1,"prefix":"gh_81fe916492972f60"}	a7c99e7e6628053b58302c3e867420b07cad36f7d0ca3332353450a1508697c9	a278aff50091df5b89560a2a34fc9db1031c5fa0145156b224e551a789f4b3bb	8181c5261986929bfe2d650b4db499ea60385cab0ec480534b31b7295cbb303e
27	1796647840125	apikey.created	9xnMQ2ID-16	2	2	127.0.0.1	python-requests/2.28.1	{"key_id":2,"prefix":"gh_e48241403644daea"}	a278aff50091df5b89560a2a34fc9db1031c5fa0145156b224e551a789f4b3bb	26a5cb40f6199bf91567c7e44d6ebb0f7d799ebbb766e1a3dbe2d83ee3f5ca4b	68a33762b90a8ba990d173679499ec1500193199b046a93a62dfb3ee13a81af9
28	1796647840132	apikey.created	9xnMQ2ID-17	2	2	127.0.0.1	python-requests/2.28.1	{"key_id":3,"prefix":"gh_6e6c23e7afd72569"}	26a5cb40f6199bf91567c7e44d6ebb0f7d799ebbb766e1a3dbe2d83ee3f5ca4b	6d04210f095e5775f2ab0375db2d5ffb266137008f62d3455d949abe8f152dbd	6b5ad59b90fc4fee8a6d5620fb40bc122468ec45ac77b3996a18c4c04d0d7b5a
29	1796647840145	apikey.revoked	9xnMQ2ID-18	2	2	127.0.0.1	python-requests/2.28.1	{"key_id":2}	6d04210f095e5775f2ab0375db2d5ffb266137008f62d3455d949abe8f152dbd	e638993e5cf5947f026b065bfab7d10671c6fdd96b882878ae55c928ae1fe8d5	5ed75e5d23c14115c13c87d4053e71bfa11bed7a524614073d0cdcacb04ac758
30	1796647840186	apikey.created	cli	\N	4		gatehouse-cli	{"key_id":4,"prefix":"gh_d3c403fa4eed6bb8","actor":"cli"}	e638993e5cf5947f026b065bfab7d10671c6fdd96b882878ae55c928ae1fe8d5	8e6ee349cd06957d2d49986a04047559f2fb1111a7b62db9295be4a982b5e29f	69b9d38537e8e0e48755dbc03065ee653312861920246e2377ce228cf8da9be7
31	1796647840288	apikey.used	9xnMQ2ID-19	2	2	127.0.0.1	python-requests/2.28.1	{"key_id":1,"sampled":"at most hourly per key"}	8e6ee349cd06957d2d49986a04047559f2fb1111a7b62db9295be4a982b5e29f	68d24fbd7dbf36d00cd2686b3c04cc2a21a683d24faf3105705e10fc0bd17f1a	11af8fe877f5e065f742c3c83b89093a99cb373e8d2046788164be129cfae889
32	1796647840301	apikey.used	9xnMQ2ID-1b	2	2	127.0.0.1	python-requests/2.28.1	{"key_id":3,"sampled":"at most hourly per key"}	68d24fbd7dbf36d00cd2686b3c04cc2a21a683d24faf3105705e10fc0bd17f1a	2b2abd4287ef5bef7f0eb4e6031f7360fde9e45fea455c5e959927d317695045	f8cad321df31fb6639d2963d4758adba4a83bd24456bf977118d57bba7130897
33	1796647840309	apikey.used	9xnMQ2ID-1c	4	4	127.0.0.1	python-requests/2.28.1	{"key_id":4,"sampled":"at most hourly per key"}	2b2abd4287ef5bef7f0eb4e6031f7360fde9e45fea455c5e959927d317695045	f2e0e2ea475d530de4aede0fd6a5529f991697844f8867728fd0c78bb636c30b	437ee2baaa782b2f0e3ac6604511935cfe7c33f8c6823f20035ecaa814e3e1a5
34	1796647840370	login.succeeded	9xnMQ2ID-1d	5	5	127.0.0.1	python-requests/2.28.1	{}	f2e0e2ea475d530de4aede0fd6a5529f991697844f8867728fd0c78bb636c30b	a7f69f1e928d2bbbee8ac4f15f97d4558c319d3183ce8ffa9f62af6d282eb622	4530eafe60df62951888a1a4ccfd010b98e8dae2e23c130930386cf65453819d
35	1796647840376	mfa.enrolled	9xnMQ2ID-1e	5	5	127.0.0.1	python-requests/2.28.1	{"factor_id":1,"type":"totp"}	a7f69f1e928d2bbbee8ac4f15f97d4558c319d3183ce8ffa9f62af6d282eb622	8683a82d4fb181835788568236a13f1662d59bc84a2d6764ae4052a74b78eff1	fce28bb5c40818e590ee553fe78ee17ef1aa18b8409903e4b53b7e00e33bb10f
36	1796647840381	mfa.confirmed	9xnMQ2ID-1f	5	5	127.0.0.1	python-requests/2.28.1	{"factor_id":1,"recovery_codes_issued":true}	8683a82d4fb181835788568236a13f1662d59bc84a2d6764ae4052a74b78eff1	fc800275a0fb37ae56876a3e347ad82077fb8d54770bc8b2328e6d55fda5275e	d77c9d182276c07ea3e577e919f09d03995939ea923bb861a7e4d1b2c458b960
37	1796647840382	mail.queued	9xnMQ2ID-1f	\N	5	127.0.0.1	python-requests/2.28.1	{"kind":"totp-added"}	fc800275a0fb37ae56876a3e347ad82077fb8d54770bc8b2328e6d55fda5275e	2c43fb489c97bf8944c63d7730a09be8b41784c225064de0b545dd1ca9b7789e	19ac9bfcbe6ba2e7a5ffc284a3670abe3a35458446e5b16659bde8d98abdbced
50	1796647860342	mail.sent		\N	6			{"message_id":3,"kind":"passkey-added","attempt":1}	65e045a330c3c61338f1ffad8f0cc20ac741b3b9c08954175aa84795288d7fa5	2f80c07547d6b4ee923e16550420ac2c202779c1b548a98e3635b81ccd7459af	8d3b0072506ecb28d27e0a1c575ae22bb53d3bb263f01d49498f72e390a1d21f
51	1796647860346	passkey.verified	9xnMQ2ID-28	6	6	127.0.0.1	python-requests/2.28.1	{"factor_id":2,"ceremony":"login"}	2f80c07547d6b4ee923e16550420ac2c202779c1b548a98e3635b81ccd7459af	f9c8621934f2b92511efca3cda5392a7b0ca4903df120f1ee2b143455618f5cd	a80c5ebc629b533e1e4f5892ceab998d01d598237fb1442e61ac8c736aae003b
52	1796647860349	login.succeeded	9xnMQ2ID-28	6	6	127.0.0.1	python-requests/2.28.1	{"method":"passkey","factor_id":2}	f9c8621934f2b92511efca3cda5392a7b0ca4903df120f1ee2b143455618f5cd	1f725aca15eebe9243bb1f9275a01cf215a6edd2f3a355bd1fbc888961b257d4	577bf69deb6cc3a0bba0d0123b62afac8c0802685a0c43fe954cfdfb8ac5eb9f
54	1796647860658	login.succeeded	9xnMQ2ID-2b	2	2	127.0.0.1	python-requests/2.28.1	{}	841ace2d7fae63940430aabf6da06d468535458fe7fce6163614203f6f0bf0d0	471e55b99e450d85114c0a5acc02aacc3f18c50bece2a32ba706717b9c529035	1c7bca2e740f26eb5c068de60cd2122e72a652719321127351f73ea2cda1b100
55	1796647860677	op.code_issued	9xnMQ2ID-2d	2	2	127.0.0.1	python-requests/2.28.1	{"client_id":"aHP1C-LQb2pLvCBxZc6G9Q","scope":"openid email profile offline_access"}	471e55b99e450d85114c0a5acc02aacc3f18c50bece2a32ba706717b9c529035	8fee4170f1ded4d1ea664bc69c5a273943533c6e3a8857fc638028165f01b6bb	34da373aa2a6fb83ef800f9fbebfef1f5aedbf3f534caaaf99f00e8ca219269b
56	1796647860693	op.token_issued	9xnMQ2ID-2e	2	2	127.0.0.1	python-requests/2.28.1	{"client_id":"aHP1C-LQb2pLvCBxZc6G9Q","grant":"authorization_code","scope":"openid email profile offline_access"}	8fee4170f1ded4d1ea664bc69c5a273943533c6e3a8857fc638028165f01b6bb	0bc25ba9501d0721a8d9cb62d50552f98c9d4f516af44791f6216a900ffd82f9	01d6546af49e2554cce8adf155221570db17c8b05361a1fbf18f32744d1f62c0
58	1796647860848	login.succeeded	9xnMQ2ID-31	3	3	127.0.0.1	python-requests/2.28.1	{}	63b620ef839fb141533e0d50a06b21a03874471ecd544d5a4e179435cd5c531e	79392448c228b61a035d632854b07b64beaf902f66c55ee76b93a5deca9e58dd	250f47e800e8d29d3a50f8249eaa73bb79d251e387c3d2a225f3d1e07293f294
59	1796647860865	op.code_issued	9xnMQ2ID-33	3	3	127.0.0.1	python-requests/2.28.1	{"client_id":"b73eIwqF013a2eGElwziGA","scope":"openid email offline_access"}	79392448c228b61a035d632854b07b64beaf902f66c55ee76b93a5deca9e58dd	037cddd8e3dedc79ce90626ebe9fcbc18ebb479664e96c10b78028c5be64de44	2d6e013f939d2e64ea0ffaca1b52c57eef900e353ae9c411c63070a23cdd0eab
60	1796647860877	op.token_issued	9xnMQ2ID-34	3	3	127.0.0.1	python-requests/2.28.1	{"client_id":"b73eIwqF013a2eGElwziGA","grant":"authorization_code","scope":"openid email offline_access"}	037cddd8e3dedc79ce90626ebe9fcbc18ebb479664e96c10b78028c5be64de44	42846030c1550ed42dc9791f65f6776e557e7c3f62e90a428559ca7a46749185	c2357bd9754bdac6b48aee87700df21e8472b6f50277dc8f61f760eca9b8a73c
38	1796647840397	mail.sent		\N	5			{"message_id":2,"kind":"totp-added","attempt":1}	2c43fb489c97bf8944c63d7730a09be8b41784c225064de0b545dd1ca9b7789e	df7c42abc8d8a161d898cccaaf4b82cfc7bcde8b2442488ecff5f78d6e7795b7	277531870e2b17cd70722ef535a2ecc02ce3427a5a2e1d8e66ea32cdaf7875d7
39	1796647840445	login.password_verified	9xnMQ2ID-20	5	5	127.0.0.1	python-requests/2.28.1	{}	df7c42abc8d8a161d898cccaaf4b82cfc7bcde8b2442488ecff5f78d6e7795b7	2393c0cb42abe48da78d230eb2bb8b5a0362dc6a2a6433469169a84733af56b8	1f3fa09d1e661476c6604fdfa4fff22eca698c8bd867cfb608124ba086e863ee
40	1796647840447	login.mfa_required	9xnMQ2ID-20	\N	5	127.0.0.1	python-requests/2.28.1	{}	2393c0cb42abe48da78d230eb2bb8b5a0362dc6a2a6433469169a84733af56b8	cd2d7b7d642ef6bd1ea3d571942bf65c6577238b2b17a025ac1bfe594498b95f	075e73c9322390b3a4832891725627f14abf2195897f62b0c2751dfeacdb8221
41	1796647840451	mfa.verified	9xnMQ2ID-21	5	5	127.0.0.1	python-requests/2.28.1	{"method":"recovery_code","recovery_codes_left":9}	cd2d7b7d642ef6bd1ea3d571942bf65c6577238b2b17a025ac1bfe594498b95f	cb5f1c939c891199b46dd85f407df485c061471280592cf2c4484c53e5c3d956	54a709ddc827e5e10d4196f51954dde67e186960faf77279e65b4b679b5db2e4
42	1796647840451	login.succeeded	9xnMQ2ID-21	5	5	127.0.0.1	python-requests/2.28.1	{"method":"pwd+rc"}	cb5f1c939c891199b46dd85f407df485c061471280592cf2c4484c53e5c3d956	bc718cb8827a24ae0acd5fd3e028568fd4514013a71aaa106e6d593d14eb1790	4965abffbcec911e3ae8059c6a45d9ae535091f8050c38ec8d7261263aa94469
43	1796647860185	login.password_verified	9xnMQ2ID-22	5	5	127.0.0.1	python-requests/2.28.1	{}	bc718cb8827a24ae0acd5fd3e028568fd4514013a71aaa106e6d593d14eb1790	36d5a3e5805c7fa174ca6e698e313d3d0a51ffa5ca5ee91edb58e56fefe2702b	d304b818388a59c16aefa5fd9b28d850e04e906df56b5c857c4e9ad1ebb36eb1
44	1796647860193	login.mfa_required	9xnMQ2ID-22	\N	5	127.0.0.1	python-requests/2.28.1	{}	36d5a3e5805c7fa174ca6e698e313d3d0a51ffa5ca5ee91edb58e56fefe2702b	c3da34cb986d502404169300dfe832fb0383e9b933135dccfd9e4ecd78d2f696	997a7ff238796a41a6e6ed7d8da58f1a7b1069f97b239ad1b403f5a84d2fc2a8
45	1796647860210	mfa.verified	9xnMQ2ID-23	5	5	127.0.0.1	python-requests/2.28.1	{"factor_id":1,"method":"otp"}	c3da34cb986d502404169300dfe832fb0383e9b933135dccfd9e4ecd78d2f696	41e419376349bf887a59c17a596d624dd1da25fd9b3053c25173a475464e4508	c19d72ed5549cff89a378dba91725512f284213d7bef847912454c20c143968f
46	1796647860211	login.succeeded	9xnMQ2ID-23	5	5	127.0.0.1	python-requests/2.28.1	{"method":"pwd+otp"}	41e419376349bf887a59c17a596d624dd1da25fd9b3053c25173a475464e4508	ad7da858a44d4c74bc28c1b7ab354961de61c0a774d8de769a19c091442ac7a6	a8549cff0623dc5c2956815e35b7b4e4c76803f6bbedb564451bff4b4beffd0e
47	1796647860283	login.succeeded	9xnMQ2ID-24	6	6	127.0.0.1	python-requests/2.28.1	{}	ad7da858a44d4c74bc28c1b7ab354961de61c0a774d8de769a19c091442ac7a6	9f33ec791f9915bcacc41a8e81b3fedc1d3730c6fba51cd390e8df7ac0167c70	41191867886fdb8ba02563e12afb284a29d2aaceb37862eee9811b138fdba9ad
48	1796647860321	passkey.registered	9xnMQ2ID-26	6	6	127.0.0.1	python-requests/2.28.1	{"factor_id":2,"aaguid":"00000000000000000000000000000000","attestation":"none","backup_eligible":false}	9f33ec791f9915bcacc41a8e81b3fedc1d3730c6fba51cd390e8df7ac0167c70	2c8b61f57f53b573f09f477c89a383214981ff3a5dee7d7a4aae4e2ad36c34a7	7bd4ea62062e484bf5c0d011a5c3bf4ece2ea4a5ce030926fe359aea15c4aa62
49	1796647860329	mail.queued	9xnMQ2ID-26	\N	6	127.0.0.1	python-requests/2.28.1	{"kind":"passkey-added"}	2c8b61f57f53b573f09f477c89a383214981ff3a5dee7d7a4aae4e2ad36c34a7	65e045a330c3c61338f1ffad8f0cc20ac741b3b9c08954175aa84795288d7fa5	2b83e63caa46efc95f37e651c1f7e438f83555c1f6e6ba3339fe2f44c1a9e3d6
53	1796647860405	client.created	cli	\N	\N		gatehouse-cli	{"client_id":"aHP1C-LQb2pLvCBxZc6G9Q","actor":"cli"}	1f725aca15eebe9243bb1f9275a01cf215a6edd2f3a355bd1fbc888961b257d4	841ace2d7fae63940430aabf6da06d468535458fe7fce6163614203f6f0bf0d0	41cba7dd2dcc6490d77a103483829f56b6c1bde62378e5c621b0700fcef53cf0
57	1796647860738	client.created	cli	\N	\N		gatehouse-cli	{"client_id":"b73eIwqF013a2eGElwziGA","actor":"cli"}	0bc25ba9501d0721a8d9cb62d50552f98c9d4f516af44791f6216a900ffd82f9	63b620ef839fb141533e0d50a06b21a03874471ecd544d5a4e179435cd5c531e	d1beec6a701fd5e085dac5e2dc3b9a074130d41b7608dc1ca9500d98b696fb97
70	1796647861377	mail.sent		\N	10			{"message_id":4,"kind":"verify-email","attempt":1}	37401b93197fafc74a65b8815985bb0041e72f8a06c1dfc81f86cb746c9de02d	89aa271827f350eb612bbfb46668170b12ce30c00b6d795c120c425c3821b3ec	a24af71731db70250c4e5d25c688a00df50846f4cb3a46412028db2e85a83327
71	1796647861533	login.succeeded	9xnMQ2ID-42	8	8	127.0.0.1	python-requests/2.28.1	{}	89aa271827f350eb612bbfb46668170b12ce30c00b6d795c120c425c3821b3ec	9a895745dfbbd7f4998be2c88b1b83e9de76c0a4963ec0d2498040c58ca6de6c	d11951f128a6b28c796280248d39387143b7faadcec14aa0bed25aaa7e875b40
74	1796647861564	mail.sent		\N	8			{"message_id":5,"kind":"confirm-email-change","attempt":1}	66d105ce041cec03a4a436724d5b1f4770244d65e0e1dafad58f7ea3766fba53	649e096b25ef749a54f056882887fdbf8133f593d1b49ab747a954ebdd042ab4	cfdebfbb6ad04b3cc84ec36192f0b567253667171e60214c198dd27ae268f3b9
76	1796647861589	mail.sent		\N	8			{"message_id":6,"kind":"email-change-notice","attempt":1}	1f3972fb058e9b104d1dc204b01db1703383d004257b809b70a693b553e4576a	a8bca58cafe4df4a92ff27868b6323728c75993aed425ecceda4d7503e2376e3	5f4535c2ae47b13fcd5295952914b7e347205816787d09580cace6534c91d2df
77	1796647861867	mail.queued	9xnMQ2ID-3f	\N	9	127.0.0.1	python-requests/2.28.1	{"kind":"reset-password"}	a8bca58cafe4df4a92ff27868b6323728c75993aed425ecceda4d7503e2376e3	ccbb7dd05015c58429da091b9369300a987c5780ac7f924b3167d99a1e7840ea	2c1b01a8b64264a813229182f9368a48ebf313efeaa8fbc7126553a767de4895
78	1796647861873	password.reset_requested	9xnMQ2ID-3f	\N	9	127.0.0.1	python-requests/2.28.1	{}	ccbb7dd05015c58429da091b9369300a987c5780ac7f924b3167d99a1e7840ea	f4832f396d9dc78cb7c0b141ed20c7a1f8cd603ce7773a9c7a05dcbd554022aa	1c54e4fd42bff73299c2349280bb99636324177339e6320bdcc3a9dd9bb7c9f0
61	1796647860889	op.token_revoked	9xnMQ2ID-35	3	3	127.0.0.1	python-requests/2.28.1	{"client_id":"b73eIwqF013a2eGElwziGA","token_type":"refresh_token"}	42846030c1550ed42dc9791f65f6776e557e7c3f62e90a428559ca7a46749185	cd8023256b75d6b570eb261825acee3c4c07f1264d994ef937484dac76ba3d1b	b40be5dc9f6bc411dd55097006df8249c629b388af6d3bab8323d32bb426fee1
62	1796647860937	client.created	cli	\N	\N		gatehouse-cli	{"client_id":"K6DfuiU1DfyT6qUbVS1z_Q","actor":"cli"}	cd8023256b75d6b570eb261825acee3c4c07f1264d994ef937484dac76ba3d1b	3e38bea1f22244c701d51ad02c6bcd921aa8c3b7ead6a8ce141e733cd3658117	5f3a8b75a3099613f1257bd122dbae48c65ad575ed4a52b957598517cc805e2c
63	1796647861103	login.succeeded	9xnMQ2ID-38	2	2	127.0.0.1	python-requests/2.28.1	{}	3e38bea1f22244c701d51ad02c6bcd921aa8c3b7ead6a8ce141e733cd3658117	27b45448796e52a3d8db4bde137dccfb57588c1618177aeefca1807d9b401264	4efb63fb11a4f97cad6c46e19b5a3ad55835eb91dcbe08558569a51e529485fd
64	1796647861125	op.code_issued	9xnMQ2ID-3a	2	2	127.0.0.1	python-requests/2.28.1	{"client_id":"K6DfuiU1DfyT6qUbVS1z_Q","scope":"openid offline_access"}	27b45448796e52a3d8db4bde137dccfb57588c1618177aeefca1807d9b401264	953230fa8cc5df381608498ecfd564e0e7dc8f609f8230c9717ca8199e0e632d	cb0a68b1d0a59eb00b3aa5fa6a2e75d10c0e43f37910d7abe099bf7e87171d54
65	1796647861137	op.token_issued	9xnMQ2ID-3b	2	2	127.0.0.1	python-requests/2.28.1	{"client_id":"K6DfuiU1DfyT6qUbVS1z_Q","grant":"authorization_code","scope":"openid offline_access"}	953230fa8cc5df381608498ecfd564e0e7dc8f609f8230c9717ca8199e0e632d	1c4db16f8a5aec24dbb80e96a630651668666b6c5716f6fd8c73b7f44496f2c1	b9c0f25c1af76d4bf70c9eb9b78d2b05d2ea10eb16eac7fac7091bd859cca222
66	1796647861185	client.deleted	cli	\N	\N		gatehouse-cli	{"client_id":"K6DfuiU1DfyT6qUbVS1z_Q","actor":"cli"}	1c4db16f8a5aec24dbb80e96a630651668666b6c5716f6fd8c73b7f44496f2c1	6954c745cdd31d680b8f8cb1fdf767f4298dbd00d17c63c57c2c9ad30af48adc	e48a49c591175fdd5d53720fbdc16adcbae3eaedf77daf677cea7f3c9839f1aa
67	1796647861344	login.succeeded	9xnMQ2ID-40	10	10	127.0.0.1	python-requests/2.28.1	{}	6954c745cdd31d680b8f8cb1fdf767f4298dbd00d17c63c57c2c9ad30af48adc	9c2caaa243380e1bb0ab570c23ccab7ef986e7603d64b0302095e49124905e48	98a9c4fc104e8ea3e9748fd1a00a421da5e2a40d1c25dad894778096dab64480
68	1796647861365	mail.queued	9xnMQ2ID-41	\N	10	127.0.0.1	python-requests/2.28.1	{"kind":"verify-email"}	9c2caaa243380e1bb0ab570c23ccab7ef986e7603d64b0302095e49124905e48	ee126c01fe48d29c197b4a37574bc211eef921994f4fd283750697f7885da043	c35f837bbe2be29cd72de3a4caab8bf41f7a447fb3aa85264a4a2d3e92a5c7c1
69	1796647861374	email.verification_requested	9xnMQ2ID-41	10	10	127.0.0.1	python-requests/2.28.1	{}	ee126c01fe48d29c197b4a37574bc211eef921994f4fd283750697f7885da043	37401b93197fafc74a65b8815985bb0041e72f8a06c1dfc81f86cb746c9de02d	e6659a5a64e9d9eafedeb52994ddb4a2740cb6d7ee0329e87cb5cc212d035bed
72	1796647861549	mail.queued	9xnMQ2ID-43	\N	8	127.0.0.1	python-requests/2.28.1	{"kind":"confirm-email-change"}	9a895745dfbbd7f4998be2c88b1b83e9de76c0a4963ec0d2498040c58ca6de6c	f1d724b39dc4da44781a96ff22d701c6a6b5704957c7ef06f10e99d1131618fe	1a0f2229be669db0c36197f71f4d7e99e9c2fd4710cf43bf2d43bd3f307e5c1c
73	1796647861553	mail.queued	9xnMQ2ID-43	\N	8	127.0.0.1	python-requests/2.28.1	{"kind":"email-change-notice"}	f1d724b39dc4da44781a96ff22d701c6a6b5704957c7ef06f10e99d1131618fe	66d105ce041cec03a4a436724d5b1f4770244d65e0e1dafad58f7ea3766fba53	99698d51215a028ce156c58371da2dbbd676b462d9999a3e56e070225eefd548
75	1796647861557	email.change_requested	9xnMQ2ID-43	8	8	127.0.0.1	python-requests/2.28.1	{"new_email":"grace.new@example.com"}	649e096b25ef749a54f056882887fdbf8133f593d1b49ab747a954ebdd042ab4	1f3972fb058e9b104d1dc204b01db1703383d004257b809b70a693b553e4576a	fba8fe524756596a5a133fb8b4ee7b4d020f7df4638447b7ed7749accb1e5cc9
79	1796647861889	mail.sent		\N	9			{"message_id":7,"kind":"reset-password","attempt":1}	f4832f396d9dc78cb7c0b141ed20c7a1f8cd603ce7773a9c7a05dcbd554022aa	14717afc1d9d3e7575da517314cb949263e051beb0f2fd6afe7136f72a4758a9	179436c9389e612cd33498d897e1d0dc6b1a510d2b60fd144311b0e49b941a4e
80	1796647862529	login.succeeded	ghYa5MNZ-3	2	2	127.0.0.1	python-requests/2.28.1	{}	14717afc1d9d3e7575da517314cb949263e051beb0f2fd6afe7136f72a4758a9	ed905efc8c00af28aebe9a774694eccd601a1d44f1e860531ca2c98ed27e4b87	3e5f0dacd3c8a2f11dafa2112ba2bbb0ba9ce660531f9ce98725ab03083b1331
81	1796647862597	login.succeeded	ghYa5MNZ-5	1	1	127.0.0.1	python-requests/2.28.1	{}	ed905efc8c00af28aebe9a774694eccd601a1d44f1e860531ca2c98ed27e4b87	d52e988baba3b00570bf56ac9d8d4123e9e74526486271e37994e2b96215af4a	351de363ac9270056bb1e5563b051f2cd66444ca5904dbd403c836bc4a4a69c8
82	1796647862654	login.succeeded	ghYa5MNZ-7	1	1	127.0.0.1	python-requests/2.28.1	{}	d52e988baba3b00570bf56ac9d8d4123e9e74526486271e37994e2b96215af4a	9de17e9f8857aacb6a4ca20090c8bd174af5c16e49f5a131b882d972ea713823	6ea895198a292bb6cf04f4684667094cced763b543516f3d1a60d05170af31e4
83	1796647862709	login.succeeded	ghYa5MNZ-8	2	2	127.0.0.1	python-requests/2.28.1	{}	9de17e9f8857aacb6a4ca20090c8bd174af5c16e49f5a131b882d972ea713823	b4cb4921018260c5df26284f2c42739a387e60f0a1ace452a87493df00004a17	cf89490cb93fda5e780a88c593e0bb9187c07b5151250e5ea8de3ca3a3a6add1
84	1796647862885	login.succeeded	ghYa5MNZ-9	3	3	127.0.0.1	python-requests/2.28.1	{}	b4cb4921018260c5df26284f2c42739a387e60f0a1ace452a87493df00004a17	9f35b46417816f162e10a0a0aeaf0680a7add6a2bb02f59daf73070948f93848	4c0cbc0ba7fe0bbd0dfdd34f0bbd99e811d2c042c4fdb3d9f78bb28696a944d9
85	1796647862980	login.succeeded	ghYa5MNZ-a	4	4	127.0.0.1	python-requests/2.28.1	{}	9f35b46417816f162e10a0a0aeaf0680a7add6a2bb02f59daf73070948f93848	0a42d41056926cd40e7489cd5a333a249ecea29df40f96553608fd1b14027aef	5373b27c586bfe6aaf4d7cfb6c226986469983447c1170300c613c8abd91d317
86	1796647863088	login.password_verified	ghYa5MNZ-b	5	5	127.0.0.1	python-requests/2.28.1	{}	0a42d41056926cd40e7489cd5a333a249ecea29df40f96553608fd1b14027aef	95445c18c9a9594c3688c9740d321e1147568200308cf677ff33424388a72e07	ab3d1e70d62a5dc3d0306412cf2d4ad982da286358e90da065d69ff0a88936d8
87	1796647863097	login.mfa_required	ghYa5MNZ-b	\N	5	127.0.0.1	python-requests/2.28.1	{}	95445c18c9a9594c3688c9740d321e1147568200308cf677ff33424388a72e07	76f6af2a6ac8eeaf533fedbc28f34828b843c710ad2d7ab0a7640587b578de84	76eaa5707d1014a74e514cdce2cdb3aea52a11d752f9f1ee2f405e4fce2af9f7
88	1796647863209	login.password_verified	ghYa5MNZ-c	6	6	127.0.0.1	python-requests/2.28.1	{}	76f6af2a6ac8eeaf533fedbc28f34828b843c710ad2d7ab0a7640587b578de84	ef8fac5fd04362e19ee2606593dba5900c07760ab1d191caa99ff880d94067a3	8bb31f35375ba88fdb64e7fb36af6661eef7139cd8b3f6cba0f75d094281db8d
89	1796647863221	login.mfa_required	ghYa5MNZ-c	\N	6	127.0.0.1	python-requests/2.28.1	{}	ef8fac5fd04362e19ee2606593dba5900c07760ab1d191caa99ff880d94067a3	a1a46a406ab2795566f0317e2b67ee2e1bd349eaa4fc3e47305fdb9e3663ea12	7cd464e7aa8818ffbafb9d6ab9b658b8672727df8d1844582bbfb591d4c3ffa1
90	1796647863329	login.failed	ghYa5MNZ-d	\N	7	127.0.0.1	python-requests/2.28.1	{"reason":"inactive"}	a1a46a406ab2795566f0317e2b67ee2e1bd349eaa4fc3e47305fdb9e3663ea12	109175660b83918b399742ae58dc64728127fb93d486031c134a4cce352f9cf7	8b156b1d1ac8a27fdb627a79acce401700e70a65815e59815b5f3681882a0262
91	1796647863390	login.succeeded	ghYa5MNZ-e	8	8	127.0.0.1	python-requests/2.28.1	{}	109175660b83918b399742ae58dc64728127fb93d486031c134a4cce352f9cf7	53a6f4b60341de68de4caa2effc45052185683fec1889646f174fffb43089531	1040acc8ff93d4a4d613a9a71bcd8e496f100653051d0d5e63272cc79f0c9508
92	1796647863472	login.succeeded	ghYa5MNZ-f	9	9	127.0.0.1	python-requests/2.28.1	{}	53a6f4b60341de68de4caa2effc45052185683fec1889646f174fffb43089531	ac9d955ae89db06fe1d637fe26b130b3bcbe51d45e70c441280143db2f685791	e00d6cb0e16d81aa8dd377393c9af77e05e48dfeda0775a553e0b97355de786f
93	1796647863573	login.succeeded	ghYa5MNZ-10	10	10	127.0.0.1	python-requests/2.28.1	{}	ac9d955ae89db06fe1d637fe26b130b3bcbe51d45e70c441280143db2f685791	b1afa3ca17f01a37f0112350f3dde482bc6c9cf5cb89dceb4f441d852b18fcb1	9d53e76370b17c2a0ed2e3d53234aaf35855733174a76ed3473763009078fbd4
94	1796647863589	sessions.ended	ghYa5MNZ-11	1	3	127.0.0.1	python-requests/2.28.1	{"sessions_ended":4}	b1afa3ca17f01a37f0112350f3dde482bc6c9cf5cb89dceb4f441d852b18fcb1	cab6d3312f8a154476a5ce141bbf84d6bd3dd4930b024382c46e32b64cde9e1b	e74e78277117c14430ba72ef0d644e82111d24ef3b49e8d7c82c433dd80fa4cf
95	1796648068402	login.succeeded	bgAXIl-W-2	2	2	127.0.0.1	python-requests/2.28.1	{}	cab6d3312f8a154476a5ce141bbf84d6bd3dd4930b024382c46e32b64cde9e1b	b8ff3c0f5c8e2a46795c974f902310c6898fd9b6b2974e22a101e83fa84ab71f	02b44769ad986ba1ba8e59a01efa36ab32f91f9bc333c34cd1d11cf8da63630f
96	1796648116158	login.succeeded	4BigEsyU-2	2	2	127.0.0.1	python-requests/2.28.1	{}	b8ff3c0f5c8e2a46795c974f902310c6898fd9b6b2974e22a101e83fa84ab71f	d5959efef41192fc67265a896da76aea93dab16de219a766dabf0fd05dd1bc38	14de6acabab1c6fb6b1b6aa17d6fa70fa1d35e116845c18301d9b87900383de4
97	1796648218646	login.succeeded	cASFQgTJ-2	2	2	127.0.0.1	python-requests/2.28.1	{}	d5959efef41192fc67265a896da76aea93dab16de219a766dabf0fd05dd1bc38	8283e89076ed464656eba6891527e8a25d857cf83986fc90e3536da363f3c884	2f867f80f9fa59ed55324e788b15e5ef2c93f1f9a0d9cb928e28cf38e3ae3c57
\.


--
-- Data for Name: change_log_horizons; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.change_log_horizons (log, purged_through) FROM stdin;
\.


--
-- Data for Name: email_tokens; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.email_tokens (hash, user_id, purpose, email, created_at, expires_at, session_id) FROM stdin;
e5f02f4a2bffff0bf38059a59d77c4c15e8fd92ee8eec121b99be744c30c1144	10	verify	ivan@example.com	1796647861	1796734261	\N
a3cb13192b8ca79e0cf4e1f9904e1ccf0d2e8ddb3886b264697b4475c3605fe7	8	change	grace.new@example.com	1796647861	1796734261	q9OYK0hzwBTYxqBCGf-P8A
8f52b8155dfd0f4885fe4f8e61d7fff079a040d4bd35eaab5d9752d1648cb3aa	9	reset	heidi@example.com	1796647861	1796648761	\N
\.


--
-- Data for Name: identities; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.identities (id, user_id, provider, issuer, subject, email, created_at) FROM stdin;
\.


--
-- Data for Name: key_ring; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.key_ring (purpose, alg, generation, kid, sealed, created_at, signs_from) FROM stdin;
master		1	master	owAXRHzDCDkOAnQf8Lhquq5MXz7hzcl3ITLEgZcaDccAw7TH3JRScdnxccFI5i8SNmwzUr_fxRvYUzQD7sG-uxDO4MCEqBQwFFMBcr_GWAVIvydADH1ZAi3QGLDicEpH-RvlfIvRDumeo92LQRkqrLlY	1796647836	1796647836
token	ES256	1	KY6g2luPGtud-3er-u5xTHYjv3-7rjnka4rgFHglZzI	oQF8wH2MO7iHoQVxms21W6-5ijVTZH4JvMSLEMwGUUcd01BgLMd6YwY5UKjBfdmn-tIwFXiKkvsxR6GBjsdTf_SYt5WoOECwTmdhuAddqtZFTgns3jhGd9emeJ0s2dNlynbG7GxeHmKugAeVJP74VXm8OsXqeBqyeIb0WznfgRjiOEL14bszijVs6D7aXhyZB9lIRqDP13tzZ6_BqBmW-sowwBRzO7ek_eriS1A4TinQK60rjWG-1xxP6UxZsbj2PxmY1UAkL1WOgwe9VKX8LexVE5Fj7-dClD-xgLBVZW5caudk-TI63AYZjRjXzd1AJIN8ioAkL3lSm1YZkRmb8TzU9UtX3EaRSIY6AcA	1796647836	1796647836
token	ES256	2	a4rPUiF6cEjaDrdvGpcnWusktFUoMifjT7Cew8aU1zQ	FbB5lPqiBq8vWa4ilotqZDBl58LFOdzS9E7IuZEl-rT9L5t6apT9srDC8sk5G19bH0bsHP2JS9wS2gHHgYZl0fGZ895os9dXkzk47-oxfXUlebNPdCpIuGjPwZWg31nuDctxMFObryd0RkKls6vABBfZaPXBY-vG28BZWxYtt5mOs5TCB28_oyiD5XBRLn57qUV_z7apnn1WuXj4nFjmie31-YF16Qk2G390KiWxt4nwRFaMlu2Wc3xSm3L3frSm0G_jn9wCLwVhtWWuF3q8_BgXYuvgj8P4tim5pw4Y__61OjeuQnv7IfbyEde2rYDMZ0l6K_RD113CbPQa1cG49PUdNGeYPMnP6OB3pqg	1796647862	1796648167
\.


--
-- Data for Name: legacy_subjects; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.legacy_subjects (source, subject, user_id) FROM stdin;
\.


--
-- Data for Name: mail_outbox; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.mail_outbox (id, kind, sender, recipient, user_id, body, state, attempts, next_attempt_at, claimed_until, claimed_by, expires_at, created_at, finished_at, last_error) FROM stdin;
1	password-changed	noreply@gatehouse.test	grace@example.com	8		sent	1	1796647839	1796647959	vm/u_18-SGAr4KERKcX	1797252639	1796647839	1796647839	
2	totp-added	noreply@gatehouse.test	dave@example.com	5		sent	1	1796647840	1796647960	vm/u_18-SGAr4KERKcX	1797252640	1796647840	1796647840	
3	passkey-added	noreply@gatehouse.test	erin@example.com	6		sent	1	1796647860	1796647980	vm/u_18-SGAr4KERKcX	1797252660	1796647860	1796647860	
4	verify-email	noreply@gatehouse.test	ivan@example.com	10		sent	1	1796647861	1796647981	vm/u_18-SGAr4KERKcX	1796734261	1796647861	1796647861	
5	confirm-email-change	noreply@gatehouse.test	grace.new@example.com	8		sent	1	1796647861	1796647981	vm/u_18-SGAr4KERKcX	1796734261	1796647861	1796647861	
6	email-change-notice	noreply@gatehouse.test	grace@example.com	8		sent	1	1796647861	1796647981	vm/u_18-SGAr4KERKcX	1796734261	1796647861	1796647861	
7	reset-password	noreply@gatehouse.test	heidi@example.com	9		sent	1	1796647861	1796647981	vm/u_18-SGAr4KERKcX	1796648761	1796647861	1796647861	
\.


--
-- Data for Name: mfa_factors; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.mfa_factors (id, user_id, type, name, secret, confirmed, created_at, last_used_at, last_step, credential_id, passkey) FROM stdin;
1	5	totp	phone	K_ecqNtCADr9-GuqRPeR2ajPQ2a4LTZ49koJgfX2KMdBaZC7YK9ZNafXEhuaJUIi	t	1796647840	1796647860	59888262	\N	
2	6	webauthn	key1		t	1796647860	1796647860	1	uNjuCnpWO1ptC52ER45MFMmrCpo2ceu366sODotiggs	{"public_key":"pQECAyYgASFYIPVZKaoMlj80hoYVvCx8l8ErqwwbHHNlW2TymysxcWnAIlggBMJiTKaulYq8KHsY3ZbhtGiEzPBD07xl230SbOw5kLU","alg":-7,"aaguid":"00000000000000000000000000000000","be":false,"bs":false,"uv":true,"transports":["nfc","usb"],"attestation":"none","attestation_type":"none","attestation_trusted":false,"discoverable":true}
\.


--
-- Data for Name: op_clients; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.op_clients (client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, scope, is_public, first_party, created_at, secret_rotated_at) FROM stdin;
aHP1C-LQb2pLvCBxZc6G9Q	RP one	6412b00695ed6a3a4f6668efb064be4e7978f687fdc1e35420451652b2df4546	["https://rp1.example.com/cb"]	[]	["authorization_code","refresh_token"]	openid profile email offline_access	f	f	1796647860	1796647860
b73eIwqF013a2eGElwziGA	RP two	9c187bbd4880080532c95d530f3ce5c2073679656d15507a1d34ced4bc0bd19e	["https://rp2.example.com/cb"]	[]	["authorization_code","refresh_token"]	openid profile email offline_access	f	f	1796647860	1796647860
\.


--
-- Data for Name: op_codes; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.op_codes (hash, client_id, user_id, data, created_at, expires_at, used_at, session_id) FROM stdin;
f848d7809031176c4ce4d70143603394de4bb41beec76d4a3bc921addb927802	aHP1C-LQb2pLvCBxZc6G9Q	2	{"redirect_uri":"https://rp1.example.com/cb","sid":"5NRTK_UJ9k7TgTrAQN5Xgg","scope":"openid email profile offline_access","nonce":"tPalcGfFiP6XIk5a","code_challenge":"nV0DojM908EuqVkvIv7UzEsNvC9dUnGzrdeh_HPA3mc","auth_time":1796647860,"amr":["pwd"]}	1796647860	1796647920	1796647860	YlNUijaf3Ao5EBUiaA6lmg
99b0dc15a5896e968a4a8aa23cb1c9328620fbc2fc33032d8c7bc7eda7d1b8da	b73eIwqF013a2eGElwziGA	3	{"redirect_uri":"https://rp2.example.com/cb","sid":"Ffz36ZT4FuZxT0WpAK4hzw","scope":"openid email offline_access","nonce":"pWEKPzzRTVZO2jEc","code_challenge":"K-tM0Uc67RU8oo2D-5N0RmiOhzGoDNQOmT-LrJfK2s4","auth_time":1796647860,"amr":["pwd"]}	1796647860	1796647920	1796647860	m44UeD3fL04_c6qQ7xDpHA
\.


--
-- Data for Name: op_consents; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.op_consents (user_id, client_id, scope, granted_at) FROM stdin;
2	aHP1C-LQb2pLvCBxZc6G9Q	openid email profile offline_access	1796647860
3	b73eIwqF013a2eGElwziGA	openid email offline_access	1796647860
\.


--
-- Data for Name: op_keys; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.op_keys (id, sealed, created_at) FROM stdin;
1	1PZDkixEPR_0fleApUa8Y7Vd6VyKDAHdSRFqSRD5VpZe5qHPgODrSZ2pcsrcpmCWRn9ESXkJA9vxUGfaA5HdkeO1dnsdN6Vhoi5ApuiORYI1sk9sXZDgD3JbeHbeBmd98nCQN6aHZFnfc6yKDygJbyyVdnkMDDULWsYb9lFTCatH6qxF_3QvwU0XULxE5OS7_SCecVgOnfVlx9I2tTjo9VTBRfEKCR8KSDUUJHrQ94AJCw6w6wLRNnPVdFBymxKHaDSXq9CFBQ_0YHY9p3dehFehC8P9JBj4g8s42Iq-tbIZJEObkwxpTjl1GBF3Eo-IfXqbh_id4xjpflWIV6aBwVli6nicuUjws0FLF8ozjWS4jutKxaaHO9DTziZQQ2V2fHuOB8rlO-z2vZm8TX2l4Az5e20a_mUxP-K8wHQ5ZIiUFtmZ76ynTmdNaxubk8Vxk_Z0v37dIeEilEpFiCH1U8HnEtXkz2Hk7zFiRD3x_6YlD1-ZzLJnbT-m5sQlKkk_VLPAM9cJcd5j9zzbuUq1h9yRq81KVDP3tacuV-wIwHcMuoKdJj4_rcvE-gM6x4VpNSmtCBGrdqT0oCqP6lnQCJqi8QrwJrsPXm7sz0wLJBi5JF9CeZoxgF41-nHit29dR7Qt4oAAwwG0eTkSTaxa_-7H3S8PXM_L0Pv2jK6JmMCy-Ok3Lwc3m81cjxdHPUzATtA8RJj0ioQbEk0AbeHTYYkH1mfLD2wADu2QWUSw3-wFoyaIMGCBNtH4xsOclIA9v57xYuF9ISxPHnWrFNMGMnHlQpQAsqbuWlBiWpkrtj2FUjFotShI0OjYQ2Dgv9fcRozbrYCayaCskbXlfss6bWKukCeSJTh--qr95T9UymwVUdRSqTPzK61fz74BHDHMlVi_MCoS_kbkyod_AjDHFzdSq7KV48ZsmgYvQZrnkXPet7zqcI7AeHSiNo-PlMLpNw9uwH6wovRVaIk6j7Vt0WliLrbIfGP_o7FEdwAKBmFEiQc1998uvRkM9Y7wkEKf67AlT0S595rfE9GKmP08eCYOHqclYtbYRywuzRA0PSIc_2O5tVC7spU1RJLPyd5ipvrKAgTMI9SM2Sf0Mku8SDWBDwOI9XJuc38ErJvSgS68KSyn37K8zHb24nlY2ohIAROlTYvM38KDMug7M5JOzr_LmxBgjyLJASQnExTLxUnQ7kvQFuM3qfLD5bfJT11cncDiXMlaPqNMz54id5pa6UdlHR41DMfqt9Mb1Ch1oUIFHKqDYsEjcIY1RmAjHIeyxrKBZvIUTy8O16pAK1ESyGZCKHgkMSlfjPLiqSuGjUCtwHuhfdH1ICRmS1YTCV2O_I3Yzo2NM7TOKyksfPkQ5nCanUy70RIwUWQKJqbSDco2Uo3WEqA6IRpn24wOik2unfABXov1FhkMnlfDA1ZkI3CMr2JeHA17kVNSisK11m_AScIB9pKxOKdGIn3Gal7aSJ9MRSWV68k3z8Qc7QuFL0lmXFceAtO-FRKN47XcLVjgVxGsMGzEK5zhMlbNnjM5BQX5ZCqUVpvkgNaTxu-_C3VGWcR8cdHnw66HniwwegwGpIxcd36fWuIIFOw4k_3fcHCe-iUEHH7wElpc-UHW3C7hFzgiVyyh4BOn_UyMhyFX8O1wwuT49No4o1bGj6fhE6Ac_vBTPujGgQIgtJFslAap_nksdsiK-K6qhfP_-OUz2ehkwdoyHwrd6cdGj7ZvXNQ1cQCke-WabP46OjX04E0SNp_C9TpfEzO2Ozwu2eUNibRicqCiRnHcFfykBauFdeAKgy16qfOJmmSI6rMCgup5zqvYjTx-upj5emR14So90kvaFUSeQ_0XUV-plMk8ftb6drffTHnQx4ciwCnyHZ0GYSh2qI1SliHVzndQlPV4CwcjzUUsDeGLvWB_kp650_RDGCks5m9NwbvXETVERbFchsVxbLFCBaM2fGLdanDpNeooZaaZ0IRVgFfNQZ2649oQ07u0JqMrSQAclDUeyrLgA_zn7rjrQ-iLob8dYjwaY4exDDXP3IdWt6QpTLVmdGPDg1QLHS7CZN4Gen-NeMYZ078VEcNC1bkwS3IR4f41E8X3LMcBw9Oif9INqX6Gwc-l96RP4ufBD1odx7bWVFOBFMlLYlw_1lgrVlhBo4ofM8jFn6EL5IsANWDVY0YKnlUqaIdZ-X2R-FPR6dmAg6uMDYYsyBnC4HQ7MniXr7iOXDpcF0R9bd2H1M-6m7BadmrUGdO8Z24ihTQUMI6GOUowpz_JNpyvrp5fkWIAt-8X1aG_Ebtps_gNxTEsHCJFgbjoAA	1796647836
\.


--
-- Data for Name: recovery_codes; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.recovery_codes (user_id, code_hash, used_at) FROM stdin;
5	eaa81d762be21e381059068d1c79799571530788becde4c691b5ebabd59da2c2	0
5	b7ce3b93cf255c66395b7d2c12e501bae885f6f81f5bc9a859a3f220472e3577	0
5	ecd176582e558dc606add130542e5fc9f6c1dbbe206d77a2b479b5e764a3b03f	0
5	e27e2b58b0605ec4d47d733bcb0e02c88b5ee76c71c8cb48b073e8bd8b5b1084	0
5	580f4e4172ba14e35accae19d0330b578723934c4201d4797c88f9868cda69e3	0
5	2d5a4d666d38eba85ad165da8ef322340ef5a1b69716d7b6e013ef24e1b489f6	0
5	ef70dcb02faa9b99d3ab5d24ef467b026a202dbdd628a5ba26e857db59d7e165	0
5	76dfdbf6adc4f314ef976d31dfec77521c918bdbd1a12bc3c857e89065076bd3	0
5	28bbcc6e237ba14a97efd793908fab7212b14880388d1ec5494e026c90039216	0
5	9d345a59cd027e4b293b89542259c16b051939a90e646c62381d5a33aa2e060d	1796647840
6	177bdf19cbf16dc7269c952fffbca6d9c93045801676ae12031f389a3bafa299	0
6	197b7c5013dc320bb3f13c7a8eea4c740925ad061b37b9ed77648bbdcbd2b38c	0
6	8005f1cdbd394d28a05804590c447ab88c54293253f520e76985f6561c825836	0
6	6e3bbfb8a34ce60bf19441bbb2eb5db55b5e1b84193e149a91ad273e624ff7ff	0
6	f450c5b1dbd73ffe905cf6260d00bb2e3c48c00570701f795fcfd1aae3be9358	0
6	835d78d92c92761379e491d69c4ff44b91ab1ca614f487ce17157c3cc30b5c8b	0
6	cc58d31d1c2c5463ff9ef4daa621cf3c73b1e3abc2947ddb8553f69343e0f7bd	0
6	8af8e30a796228a0fab7a1cb3328aaf23e1b3204ec76322c49918dc0750a1476	0
6	3285079c7e52bd179189149eed48c30c0f2f717fc215ed6bc3c094c1d38c84f5	0
6	f670fdc8e681240b7f996f4eba25f9f8b9ca51c0ec5a78c58f81952f8367973c	0
\.


--
-- Data for Name: revoked_tokens; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.revoked_tokens (jti, expires_at) FROM stdin;
sid:zj6u0p4-K-StByCHZaxCCQ	1796649638
-SCBT1Dhxkz0ML2-ZmOKkA	1796649639
sid:13dJvPVfjGQE70fxsncZYQ	1796649639
sid:L7sOV921sDY0xFFg5uLQzA	1796649639
Q3NZaApZQeDcUjQia-6UBw	1796649639
sid:HzmO2EmFjqqo2bsE-C6yBw	1796649639
NXh6KxxYOtytDXJHAyNORg	1796649639
sid:m44UeD3fL04_c6qQ7xDpHA	1796649660
sid:iXEShVWeMjEWLcOeS4BmVA	1796649663
sid:Ffz36ZT4FuZxT0WpAK4hzw	1796649663
sid:-6TFuoMH29bpqXhSrqkeHg	1796649663
sid:a5ShqmlH_jAF4Lv5kFqoiw	1796649663
\.


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.schema_migrations (version, applied_at) FROM stdin;
1	1796647836
2	1796647836
3	1796647836
4	1796647836
5	1796647836
6	1796647836
7	1796647836
8	1796647836
9	1796647836
10	1796647836
11	1796647836
12	1796647836
13	1796647836
14	1796647836
15	1796647836
\.


--
-- Data for Name: sessions; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.sessions (id, user_id, refresh_jti, user_agent, ip, created_at, last_used_at, expires_at, revoked, previous_jti, rotated_at) FROM stdin;
DrV3OK5PjVofpmrEwkwUBw	2	Ldku3P1755uYLldNrSzi_w	python-requests/2.28.1	127.0.0.1	1796647837	1796647837	1797252637	f		0
O9BwB-0et2DSIFKBDPocDg	4	hKyH68jlOl-gmguxB48kvA	python-requests/2.28.1	127.0.0.1	1796647837	1796647837	1797252637	f		0
VH0gncpCszJlPbMIyBMRzQ	5	Aqgz1J1GmV2sn8jIWzakFQ	python-requests/2.28.1	127.0.0.1	1796647837	1796647837	1797252637	f		0
_1N8Ad6jfr5_akRSdHxfew	6	OKFk2tx1N9lwB1AnWgrkCQ	python-requests/2.28.1	127.0.0.1	1796647837	1796647837	1797252637	f		0
PSC-eGqAmDPsBkyYeMv11A	9	TgO8mffWROMOPlpdkvtBcw	python-requests/2.28.1	127.0.0.1	1796647838	1796647838	1797252638	f		0
jIT9WHEq7rWm88m_intPpA	10	Tpmm_Vf7sSyA3r8SzYoEGA	python-requests/2.28.1	127.0.0.1	1796647838	1796647838	1797252638	f		0
zj6u0p4-K-StByCHZaxCCQ	7	u1ih43neMczbuq0HZfs67w	python-requests/2.28.1	127.0.0.1	1796647838	1796647838	1797252638	t		0
L7sOV921sDY0xFFg5uLQzA	8	6zZQ2jTKXxayZuzYgvr5SQ	python-requests/2.28.1	127.0.0.1	1796647838	1796647838	1797252638	t		0
13dJvPVfjGQE70fxsncZYQ	8	h8ShPKbIXof-UVDX0gxx_w	python-requests/2.28.1	127.0.0.1	1796647839	1796647839	1797252639	t		0
dHcqjIC0mcx2ik5ukBthHg	2	Fz8hqXHsO0cUjKUTpnomng	python-requests/2.28.1	127.0.0.1	1796647839	1796647839	1797252639	f		0
bE0tKaQO0b9PoQw2E1sO4w	2	ozwlncJ2_MMks6D_v1BnLg	python-requests/2.28.1	127.0.0.1	1796647839	1796647839	1797252639	f	bHAKbn7UjWuwgM-ZzAmaaQ	1796647839
HzmO2EmFjqqo2bsE-C6yBw	2	FCtF8q7q5f8-OtflJ0gVNA	python-requests/2.28.1	127.0.0.1	1796647839	1796647839	1797252639	t		0
7LIY3vvoufvVt6a9Ddp18Q	2	Tyn6Jv9o0LS0KYjuClGZcA	python-requests/2.28.1	127.0.0.1	1796647839	1796647839	1797252639	f		0
huDKFAstV14RKjJyfKGe0g	5	OOKU1FrXcUGljs7ZIsxMZQ	python-requests/2.28.1	127.0.0.1	1796647840	1796647840	1797252640	f		0
Tp17wkCDeiG-q6rS7QodTA	5	vjwC8JDIwm3CSiDmObOgoA	python-requests/2.28.1	127.0.0.1	1796647840	1796647840	1797252640	f		0
GDsKCujvsXuSWH-8fBViQg	5	FqgT-7Dv1Qk7rIpOf7FQ7g	python-requests/2.28.1	127.0.0.1	1796647860	1796647860	1797252660	f		0
niOax2EcRMhLaFb93iL6_w	6	1Vt4OsVJnEcc21NoRX221w	python-requests/2.28.1	127.0.0.1	1796647860	1796647860	1797252660	f		0
M81yXTCf1t7YBtrRnKVCtg	6	FGPCqdn-f3ZmiT-sKnF__Q	python-requests/2.28.1	127.0.0.1	1796647860	1796647860	1797252660	f		0
5NRTK_UJ9k7TgTrAQN5Xgg	2	NTK2YH7vCOUvM5Z0eFoolw	python-requests/2.28.1	127.0.0.1	1796647860	1796647860	1797252660	f		0
YlNUijaf3Ao5EBUiaA6lmg	2	NnZ7nHBjXjwdYV2LwrdiAQ	OpenID client: RP one (aHP1C-LQb2pLvCBxZc6G9Q)	127.0.0.1	1796647860	1796647860	1797252660	f		0
m44UeD3fL04_c6qQ7xDpHA	3	TNVPEQEiiukuLF7iUnTKlg	OpenID client: RP two (b73eIwqF013a2eGElwziGA)	127.0.0.1	1796647860	1796647860	1797252660	t		0
zpPZOQl-jGz5mRNAKAun0A	2	Vpi-I6QY5LlXAOqFALnA7A	python-requests/2.28.1	127.0.0.1	1796647861	1796647861	1797252661	f		0
Uj39QDGL5ek6_zzPNjSgfg	2	omvBQRjUpO27WYALzTAUFg	OpenID client: RP deleted (K6DfuiU1DfyT6qUbVS1z_Q)	127.0.0.1	1796647861	1796647861	1797252661	f		0
O-avfPKNqH1QcqmvI6ndrQ	10	oAHn1oVo6nh22CaRE4DbPQ	python-requests/2.28.1	127.0.0.1	1796647861	1796647861	1797252661	f		0
q9OYK0hzwBTYxqBCGf-P8A	8	Ay5W6L7_nf4hglyZP7GNtg	python-requests/2.28.1	127.0.0.1	1796647861	1796647861	1797252661	f		0
sddc1x4kdue241lXbi8ceg	2	gRtwuhNCoSVzjCEKb7SRgQ	python-requests/2.28.1	127.0.0.1	1796647862	1796647862	1797252662	f		0
-8WzQ3GgRcLAeeat2E_DHw	1	g4ZRSFBSeeFdTz4l1rrnSQ	python-requests/2.28.1	127.0.0.1	1796647862	1796647862	1797252662	f		0
w5Z0Hj_PvAi7rIsvKn2zUQ	1	fUQoBiDfVCFJc5DhZToNMw	python-requests/2.28.1	127.0.0.1	1796647862	1796647862	1797252662	f		0
QrpGQU7dv5cz1PQcGCeKHA	2	86d_n8Cd10ZPrcs_iarc2g	python-requests/2.28.1	127.0.0.1	1796647862	1796647862	1797252662	f		0
JpWpoH8SRLFFdH8z7hZFfg	4	1YQtj5JUo0WDpoFj36YsFA	python-requests/2.28.1	127.0.0.1	1796647862	1796647862	1797252662	f		0
7Ti8NzDgD0tI5_DY6Xauxg	8	xm3zwXh5V2bw1tdqjXHCmA	python-requests/2.28.1	127.0.0.1	1796647863	1796647863	1797252663	f		0
8jGUtwMD82pPq5OV0KN_jQ	9	lmW62o86JpDg_8j3NkjW5g	python-requests/2.28.1	127.0.0.1	1796647863	1796647863	1797252663	f		0
ZK2RqH4Mfag9X9z90gbJlQ	10	aiPoGS5LjDOlzc5fVlj9uw	python-requests/2.28.1	127.0.0.1	1796647863	1796647863	1797252663	f		0
a5ShqmlH_jAF4Lv5kFqoiw	3	QsceeVjitWb1u6ue17tBmQ	python-requests/2.28.1	127.0.0.1	1796647837	1796647837	1797252637	t		0
-6TFuoMH29bpqXhSrqkeHg	3	Szvb0xYnkmiTFfuh91HasQ	python-requests/2.28.1	127.0.0.1	1796647840	1796647840	1797252640	t		0
Ffz36ZT4FuZxT0WpAK4hzw	3	TxJ3h6S3F0T5P4H0Mw-MzA	python-requests/2.28.1	127.0.0.1	1796647860	1796647860	1797252660	t		0
iXEShVWeMjEWLcOeS4BmVA	3	cnGxkN6nAK_kyKnmaIppqw	python-requests/2.28.1	127.0.0.1	1796647862	1796647862	1797252662	t		0
n8aIARg-NEiHmZz75gggLA	2	Rc3MNJHpb2NWuSQHaEnevA	python-requests/2.28.1	127.0.0.1	1796648068	1796648068	1797252868	f		0
uKhdO536I9MebrYUG6PRxA	2	MiNgXWR7TcFuan-h53WAdw	python-requests/2.28.1	127.0.0.1	1796648116	1796648116	1797252916	f		0
5R9ZCzQuZaJxB4yg_2mz3Q	2	BXBE8b1AqsUxuqvhdm12qA	python-requests/2.28.1	127.0.0.1	1796648218	1796648218	1797253018	f		0
\.


--
-- Data for Name: user_changes; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.user_changes (seq, user_id, at) FROM stdin;
1	4	1796647838
2	3	1796647839
3	7	1796647839
4	7	1796647839
5	8	1796647839
6	8	1796647839
7	5	1796647840
8	6	1796647860
\.


--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: gatehouse
--

COPY public.users (id, email, username, password_hash, role, is_active, created_at, updated_at, tokens_valid_after, email_verified, mfa_enabled) FROM stdin;
1	admin@example.com	admin	$2b$10$wG8ivtV7CgK99hlJIdNAyOXl1S85CXEqyUMoCV1BWgFMnsUWyron.	admin	t	1796647837	1796647837	0	f	f
2	alice@example.com	alice	$2b$10$3Socv65I64rIHeAj443np.dTNxJalJ.FrXjNVIPghEC5YC6EFiobG	user	t	1796647837	1796647837	0	f	f
9	heidi@example.com	heidi	$2b$10$ZmzbxdqvRKSwWdSSjnSBVO8BDargrV0rSnIGKto/kPd7BOox2k6Zq	user	t	1796647838	1796647838	0	f	f
10	ivan@example.com	ivan	$2b$10$YC1wPfNMLE6GlNO9F4yfgO54Bq85L/5AmxUSxTe/ewblbjnK.Nu.q	user	t	1796647838	1796647838	0	f	f
4	carol@example.com	carol	$2b$10$o3hlkjS2x68xxLnaw9exeulxxpKm6i/peFsJFq0zvc4IJCJfDFPpq	analyst	t	1796647837	1796647838	0	f	f
3	bob@example.com	bob	$2b$10$RUoWREigy5aAGPhXkVx9ee9OS3rMIpiKSkTW1fCnC5rk2zWw/VL16	moderator	t	1796647837	1796647838	0	f	f
7	frank@example.com	frank	$2b$10$FgNsv0T7wprUOqm2COPsu.sD9QR2xwtXHDYks6J01bJzxIPUgct5W	user	f	1796647838	1796647838	1796647838	f	f
8	grace@example.com	grace	$2b$10$F31YkM4qgJKCS35f892WqO3.HQNLXAXqSEsdZZhruuJ3xluYZFrdu	user	t	1796647838	1796647839	1796647839	f	f
5	dave@example.com	dave	$2b$10$OwAnR6fNUrRVFVUrPCVwd.STquOHzmdxX1bDPlwKtKAGTvtct5Hf.	user	t	1796647837	1796647837	0	f	t
6	erin@example.com	erin	$2b$10$zbMOrblPcTiz8EzbEkf9AeGgJkrsRvmMvHQiiGzRy7sT/Afx36Ow2	user	t	1796647837	1796647837	0	f	t
\.


--
-- Name: api_key_changes_seq_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.api_key_changes_seq_seq', 1, true);


--
-- Name: api_keys_id_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.api_keys_id_seq', 4, true);


--
-- Name: identities_id_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.identities_id_seq', 1, false);


--
-- Name: mail_outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.mail_outbox_id_seq', 7, true);


--
-- Name: mfa_factors_id_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.mfa_factors_id_seq', 2, true);


--
-- Name: user_changes_seq_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.user_changes_seq_seq', 8, true);


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: public; Owner: gatehouse
--

SELECT pg_catalog.setval('public.users_id_seq', 10, true);


--
-- Name: api_key_changes api_key_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.api_key_changes
    ADD CONSTRAINT api_key_changes_pkey PRIMARY KEY (seq);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);


--
-- Name: api_keys api_keys_public_id_key; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_public_id_key UNIQUE (public_id);


--
-- Name: audit_events audit_events_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id);


--
-- Name: change_log_horizons change_log_horizons_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.change_log_horizons
    ADD CONSTRAINT change_log_horizons_pkey PRIMARY KEY (log);


--
-- Name: email_tokens email_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.email_tokens
    ADD CONSTRAINT email_tokens_pkey PRIMARY KEY (hash);


--
-- Name: identities identities_identity_key; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.identities
    ADD CONSTRAINT identities_identity_key UNIQUE (issuer, subject);


--
-- Name: identities identities_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.identities
    ADD CONSTRAINT identities_pkey PRIMARY KEY (id);


--
-- Name: key_ring key_ring_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.key_ring
    ADD CONSTRAINT key_ring_pkey PRIMARY KEY (purpose, alg, generation);


--
-- Name: legacy_subjects legacy_subjects_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.legacy_subjects
    ADD CONSTRAINT legacy_subjects_pkey PRIMARY KEY (source, subject);


--
-- Name: mail_outbox mail_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.mail_outbox
    ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (id);


--
-- Name: mfa_factors mfa_factors_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.mfa_factors
    ADD CONSTRAINT mfa_factors_pkey PRIMARY KEY (id);


--
-- Name: op_clients op_clients_client_id_key; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_clients
    ADD CONSTRAINT op_clients_client_id_key PRIMARY KEY (client_id);


--
-- Name: op_codes op_codes_hash_key; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_codes
    ADD CONSTRAINT op_codes_hash_key PRIMARY KEY (hash);


--
-- Name: op_consents op_consents_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_consents
    ADD CONSTRAINT op_consents_pkey PRIMARY KEY (user_id, client_id);


--
-- Name: op_keys op_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_keys
    ADD CONSTRAINT op_keys_pkey PRIMARY KEY (id);


--
-- Name: recovery_codes recovery_codes_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.recovery_codes
    ADD CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_id, code_hash);


--
-- Name: revoked_tokens revoked_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.revoked_tokens
    ADD CONSTRAINT revoked_tokens_pkey PRIMARY KEY (jti);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: user_changes user_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.user_changes
    ADD CONSTRAINT user_changes_pkey PRIMARY KEY (seq);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: api_keys_expiry; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX api_keys_expiry ON public.api_keys USING btree (expires_at) WHERE (expires_at IS NOT NULL);


--
-- Name: api_keys_revoked; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX api_keys_revoked ON public.api_keys USING btree (id) WHERE revoked;


--
-- Name: api_keys_user; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX api_keys_user ON public.api_keys USING btree (user_id);


--
-- Name: audit_actor; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX audit_actor ON public.audit_events USING btree (actor_id);


--
-- Name: audit_subject; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX audit_subject ON public.audit_events USING btree (subject_id);


--
-- Name: audit_type_time; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX audit_type_time ON public.audit_events USING btree (type, time_ms);


--
-- Name: email_tokens_expiry; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX email_tokens_expiry ON public.email_tokens USING btree (expires_at);


--
-- Name: email_tokens_user; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX email_tokens_user ON public.email_tokens USING btree (user_id, purpose);


--
-- Name: identities_user; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX identities_user ON public.identities USING btree (user_id);


--
-- Name: mail_outbox_due; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX mail_outbox_due ON public.mail_outbox USING btree (state, next_attempt_at);


--
-- Name: mfa_factors_credential; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE UNIQUE INDEX mfa_factors_credential ON public.mfa_factors USING btree (credential_id);


--
-- Name: mfa_factors_user; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX mfa_factors_user ON public.mfa_factors USING btree (user_id);


--
-- Name: op_codes_client; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX op_codes_client ON public.op_codes USING btree (client_id);


--
-- Name: op_codes_expiry; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX op_codes_expiry ON public.op_codes USING btree (expires_at);


--
-- Name: op_codes_user; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX op_codes_user ON public.op_codes USING btree (user_id);


--
-- Name: op_consents_client; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX op_consents_client ON public.op_consents USING btree (client_id);


--
-- Name: revoked_tokens_expiry; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX revoked_tokens_expiry ON public.revoked_tokens USING btree (expires_at);


--
-- Name: sessions_ended; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX sessions_ended ON public.sessions USING btree (last_used_at) WHERE revoked;


--
-- Name: sessions_expiry; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX sessions_expiry ON public.sessions USING btree (expires_at);


--
-- Name: sessions_user; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX sessions_user ON public.sessions USING btree (user_id);


--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (lower(email));


--
-- Name: users_role_active; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE INDEX users_role_active ON public.users USING btree (role, is_active);


--
-- Name: users_username_key; Type: INDEX; Schema: public; Owner: gatehouse
--

CREATE UNIQUE INDEX users_username_key ON public.users USING btree (lower(username));


--
-- Name: api_keys api_keys_deleted; Type: TRIGGER; Schema: public; Owner: gatehouse
--

CREATE TRIGGER api_keys_deleted AFTER DELETE ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.gatehouse_api_key_changed();


--
-- Name: api_keys api_keys_revoked; Type: TRIGGER; Schema: public; Owner: gatehouse
--

CREATE TRIGGER api_keys_revoked AFTER UPDATE OF revoked ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.gatehouse_api_key_changed();


--
-- Name: audit_events audit_no_change; Type: TRIGGER; Schema: public; Owner: gatehouse
--

CREATE TRIGGER audit_no_change BEFORE DELETE OR UPDATE ON public.audit_events FOR EACH ROW EXECUTE FUNCTION public.gatehouse_audit_append_only();


--
-- Name: audit_events audit_no_truncate; Type: TRIGGER; Schema: public; Owner: gatehouse
--

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON public.audit_events FOR EACH STATEMENT EXECUTE FUNCTION public.gatehouse_audit_append_only();


--
-- Name: users users_changed; Type: TRIGGER; Schema: public; Owner: gatehouse
--

CREATE TRIGGER users_changed AFTER DELETE OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.gatehouse_user_changed();


--
-- Name: api_keys api_keys_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: email_tokens email_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.email_tokens
    ADD CONSTRAINT email_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: identities identities_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.identities
    ADD CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: legacy_subjects legacy_subjects_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.legacy_subjects
    ADD CONSTRAINT legacy_subjects_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: mfa_factors mfa_factors_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.mfa_factors
    ADD CONSTRAINT mfa_factors_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: op_codes op_codes_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_codes
    ADD CONSTRAINT op_codes_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.op_clients(client_id) ON DELETE CASCADE;


--
-- Name: op_codes op_codes_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_codes
    ADD CONSTRAINT op_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: op_consents op_consents_client_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_consents
    ADD CONSTRAINT op_consents_client_id_fkey FOREIGN KEY (client_id) REFERENCES public.op_clients(client_id) ON DELETE CASCADE;


--
-- Name: op_consents op_consents_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.op_consents
    ADD CONSTRAINT op_consents_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: recovery_codes recovery_codes_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.recovery_codes
    ADD CONSTRAINT recovery_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: gatehouse
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


