"""Settings of the crm_purge Django suite: the database comes from the
environment (test/apps/run.sh sets it for its throwaway cluster)."""
import os

SECRET_KEY = 'crm-purge-test-only'
DEBUG = False
ALLOWED_HOSTS = ['testserver', 'localhost']
USE_TZ = True
TIME_ZONE = 'UTC'

INSTALLED_APPS = [
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'crm',
]

MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    # after authentication: it records request.user as crm_purge.actor
    'crm.middleware.CrmPurgeAuditMiddleware',
]

ROOT_URLCONF = 'crmsite.urls'
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

# The application's role owns the tables (it runs the migrations) and is a
# member of crm_purge_admin (to protect and guard them). Its role settings
# (ALTER ROLE ... SET) give crm_purge.deletion_scope = transaction, and, for
# this test role only, crm_purge.allow_truncate = on. Django's test runner
# creates test_<NAME> as this role, from template1, which has the extension.
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'HOST': os.environ.get('CRM_DB_HOST', '/var/run/postgresql'),
        'PORT': os.environ.get('CRM_DB_PORT', '5432'),
        'NAME': os.environ.get('CRM_DB_NAME', 'crm_django'),
        'USER': os.environ.get('CRM_DB_USER', 'crm_django'),
        'PASSWORD': os.environ.get('CRM_DB_PASSWORD', ''),
    },
}

# the admin who restores (member of crm_purge_admin, owns nothing)
CRM_PURGE_RESTORER = os.environ.get('CRM_RESTORER', 'crm_restorer')

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['console'], 'level': 'WARNING'},
}
