from flask_login import current_user as current_user
from flask_login import login_required as login_required
from flask_login import login_user as login_user
from flask_login import logout_user as logout_user
